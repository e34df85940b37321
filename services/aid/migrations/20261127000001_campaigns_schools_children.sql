-- The aid service (shared/domain/aid.md): campaigns with their regional headquarters and
-- action plans, schools, and the data bank of children. Names are schema-qualified so that
-- queries say where they read. Children's records are the suite's most sensitive data:
-- only this service's role reads this schema, the IIN is kept only for finding a child
-- again (answers carry its last four digits), and removal erases the personal columns.

-- Rule 1: a campaign, its period in one time zone, its regions and the response target
-- for appeals.
CREATE TABLE aid.campaigns (
    id                      text        PRIMARY KEY,
    display_name            text        NOT NULL,
    time_zone               text        NOT NULL,
    start_date              date        NOT NULL,
    end_date                date        NOT NULL,
    school_start_date       date        NOT NULL,
    region_codes            text[]      NOT NULL CHECK (cardinality(region_codes) BETWEEN 1 AND 20),
    appeal_response_seconds bigint      NOT NULL CHECK (appeal_response_seconds BETWEEN 3600 AND 2592000),
    create_time             timestamptz NOT NULL,
    update_time             timestamptz NOT NULL,
    version                 bigint      NOT NULL DEFAULT 1,
    CHECK (end_date >= start_date AND end_date <= start_date + 366),
    CHECK (school_start_date BETWEEN start_date AND end_date)
);
CREATE INDEX campaigns_listing ON aid.campaigns (start_date DESC, id DESC);

-- Rule 1: each region's headquarters (organising committee) and its action plan. The ID
-- is the lower-case region code.
CREATE TABLE aid.headquarters (
    campaign_id          text        NOT NULL REFERENCES aid.campaigns (id),
    id                   text        NOT NULL,
    region_code          text        NOT NULL,
    display_name         text        NOT NULL DEFAULT '',
    chair                text        NOT NULL DEFAULT '',
    contacts             text        NOT NULL DEFAULT '',
    plan_state           text        NOT NULL DEFAULT 'DRAFT' CHECK (plan_state IN ('DRAFT', 'APPROVED')),
    plan_approval_basis  text        NOT NULL DEFAULT '',
    plan_approve_time    timestamptz,
    create_time          timestamptz NOT NULL,
    update_time          timestamptz NOT NULL,
    version              bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (campaign_id, id),
    UNIQUE (campaign_id, region_code)
);

-- Rule 1: dated activities of an action plan, with what happened.
CREATE TABLE aid.activities (
    id                   text        PRIMARY KEY,
    campaign_id          text        NOT NULL,
    headquarters_id      text        NOT NULL,
    kind                 text        NOT NULL CHECK (kind IN ('MEETING', 'RAID', 'CHARITY_ACTION',
                             'SCHOOL_FAIR', 'REMOTE_SETTLEMENT_FAIR', 'PRICE_MONITORING',
                             'INFORMATION_EVENT')),
    title                text        NOT NULL,
    start_date           date        NOT NULL,
    end_date             date,
    place                text        NOT NULL DEFAULT '',
    description          text        NOT NULL DEFAULT '',
    state                text        NOT NULL CHECK (state IN ('PLANNED', 'HELD', 'CANCELLED')),
    outcome_summary      text,
    outcome_participants integer     CHECK (outcome_participants >= 0),
    outcome_children     integer     CHECK (outcome_children >= 0),
    outcome_time         timestamptz,
    cancel_reason        text        NOT NULL DEFAULT '',
    added_after_approval boolean     NOT NULL DEFAULT false,
    create_time          timestamptz NOT NULL,
    update_time          timestamptz NOT NULL,
    version              bigint      NOT NULL DEFAULT 1,
    FOREIGN KEY (campaign_id, headquarters_id) REFERENCES aid.headquarters (campaign_id, id),
    CHECK (end_date IS NULL OR end_date >= start_date),
    CHECK ((state = 'HELD') = (outcome_time IS NOT NULL))
);
CREATE INDEX activities_listing
    ON aid.activities (campaign_id, headquarters_id, start_date, id);

-- Schools that list children; they outlive campaigns. Listed in Kazakh alphabetical order.
CREATE TABLE aid.schools (
    id           text        PRIMARY KEY,
    display_name text        NOT NULL,
    region_code  text        NOT NULL,
    locality     text        NOT NULL,
    bin          text        UNIQUE,
    create_time  timestamptz NOT NULL,
    update_time  timestamptz NOT NULL,
    version      bigint      NOT NULL DEFAULT 1
);
CREATE INDEX schools_listing ON aid.schools (display_name COLLATE "kk-x-icu", id);
CREATE INDEX schools_region ON aid.schools (region_code, display_name COLLATE "kk-x-icu", id);

-- Rule 2: the data bank of children, one record per child per campaign. A record with an
-- IIN is unique by it in its campaign (whatever its state but REMOVED, whose IIN is
-- erased); one without is compared by normalised name and birth date, which flags
-- probable duplicates. Personal columns are NULL once the record is removed.
CREATE TABLE aid.children (
    id                    text        PRIMARY KEY,
    campaign_id           text        NOT NULL REFERENCES aid.campaigns (id),
    school_id             text        NOT NULL REFERENCES aid.schools (id),
    region_code           text        NOT NULL,
    iin                   text        CHECK (iin ~ '^[0-9]{12}$'),
    family_name           text,
    given_name            text,
    patronymic            text,
    normalised_name       text,
    birth_date            date,
    grade                 smallint    CHECK (grade BETWEEN 0 AND 12),
    categories            text[]      NOT NULL,
    other_risk_reason     text        NOT NULL DEFAULT '',
    identification_source text        NOT NULL,
    consent_representative text,
    consent_date          date,
    consent_document      text,
    state                 text        NOT NULL DEFAULT 'ACTIVE'
        CHECK (state IN ('ACTIVE', 'MERGED', 'REMOVED')),
    merged_into           text        REFERENCES aid.children (id),
    remove_reason         text        NOT NULL DEFAULT '',
    create_time           timestamptz NOT NULL,
    update_time           timestamptz NOT NULL,
    version               bigint      NOT NULL DEFAULT 1,
    CHECK ((state = 'MERGED') = (merged_into IS NOT NULL)),
    CHECK (state = 'REMOVED' OR (family_name IS NOT NULL AND given_name IS NOT NULL
                                 AND birth_date IS NOT NULL AND consent_date IS NOT NULL))
);
CREATE UNIQUE INDEX children_one_per_iin ON aid.children (campaign_id, iin) WHERE iin IS NOT NULL;
CREATE INDEX children_by_name ON aid.children (campaign_id, normalised_name, birth_date)
    WHERE state = 'ACTIVE';
CREATE INDEX children_by_school ON aid.children (campaign_id, school_id, create_time, id);
CREATE INDEX children_by_region ON aid.children (campaign_id, region_code, create_time, id);
