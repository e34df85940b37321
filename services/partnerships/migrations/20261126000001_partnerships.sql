-- The partnerships service (shared/domain/partnerships.md): programme years, the school
-- registry with the List of innovative schools and their innovations, applications,
-- interests, contracts under caps, groups of four, mobilities and regional forums. Names
-- are schema-qualified so that queries say where they read.

-- A programme year as data (deliverable 1). The counts of schools in signed contracts are
-- kept here, beside the caps they are checked against, and change only under this row's
-- lock (store/mod.rs: the concurrency design); the CHECKs make exceeding a cap impossible
-- even for a bug.
CREATE TABLE partnerships.years (
    id                        text        PRIMARY KEY,
    display_name              text        NOT NULL,
    time_zone                 text        NOT NULL,
    application_start         date        NOT NULL,
    application_end           date        NOT NULL,
    -- [{"number": 1, "display_name": "Модул 1"}, …], ascending by number.
    modules                   jsonb       NOT NULL,
    innovative_cap            integer     NOT NULL CHECK (innovative_cap BETWEEN 1 AND 100000),
    non_innovative_cap        integer     NOT NULL CHECK (non_innovative_cap BETWEEN 1 AND 100000),
    annex_deadline            date        NOT NULL,
    max_mobility_days         smallint    NOT NULL CHECK (max_mobility_days BETWEEN 1 AND 14),
    innovative_contracted     integer     NOT NULL DEFAULT 0,
    non_innovative_contracted integer     NOT NULL DEFAULT 0,
    create_time               timestamptz NOT NULL,
    update_time               timestamptz NOT NULL,
    version                   bigint      NOT NULL DEFAULT 1,
    CHECK (application_end >= application_start),
    CHECK (annex_deadline >= application_end),
    CHECK (innovative_contracted BETWEEN 0 AND innovative_cap),
    CHECK (non_innovative_contracted BETWEEN 0 AND non_innovative_cap)
);

-- The school registry. A school signs in with its official e-mail, unique whatever its
-- case.
CREATE TABLE partnerships.schools (
    id                          text        PRIMARY KEY,
    display_name                text        NOT NULL,
    -- The school's code in НЕИСПУО, the national information system of schools.
    neispuo_code                text        NOT NULL UNIQUE,
    region_code                 text        NOT NULL,
    municipality_code           text        NOT NULL,
    municipality_name           text        NOT NULL,
    official_email              text        NOT NULL,
    -- On the List of innovative schools (changed by the ministry only), and by which act.
    innovative                  boolean     NOT NULL DEFAULT false,
    innovative_list_basis       text        NOT NULL DEFAULT '',
    innovative_list_change_time timestamptz,
    create_time                 timestamptz NOT NULL,
    update_time                 timestamptz NOT NULL,
    version                     bigint      NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX schools_email ON partnerships.schools (lower(official_email));
CREATE INDEX schools_listing ON partnerships.schools (display_name COLLATE "bg-x-icu", id);
CREATE INDEX schools_region
    ON partnerships.schools (region_code, display_name COLLATE "bg-x-icu", id);

-- The innovations of innovative schools: the directory. `search_text` holds the title's
-- and description's words folded by the service (lower case, stress marks removed, ѝ as
-- и: store/schools.rs), which folds and stems the words searched the same way; Postgres
-- matches the stems as prefixes of the stored words. Results are ordered the way
-- Bulgarians sort, by the ICU Bulgarian collation.
CREATE TABLE partnerships.innovations (
    school_id    text        NOT NULL REFERENCES partnerships.schools (id),
    id           text        NOT NULL,
    area         text        NOT NULL CHECK (area IN ('CURRICULUM_CONTENT',
                     'LEARNING_ORGANISATION', 'TEACHING_METHODS', 'LEARNING_ENVIRONMENT',
                     'SCHOOL_MANAGEMENT')),
    title        text        NOT NULL,
    description  text        NOT NULL,
    search_text  text        NOT NULL,
    search       tsvector    GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED,
    create_time  timestamptz NOT NULL,
    update_time  timestamptz NOT NULL,
    version      bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (school_id, id)
);
CREATE INDEX innovations_search ON partnerships.innovations USING gin (search);
CREATE INDEX innovations_by_title
    ON partnerships.innovations (school_id, title COLLATE "bg-x-icu", id);

-- Rule 1: a school's application to a year for one or more modules. One that is not
-- withdrawn per school and year.
CREATE TABLE partnerships.applications (
    id            text        PRIMARY KEY,
    year_id       text        NOT NULL REFERENCES partnerships.years (id),
    school_id     text        NOT NULL REFERENCES partnerships.schools (id),
    modules       smallint[]  NOT NULL CHECK (cardinality(modules) > 0),
    motivation    text        NOT NULL,
    state         text        NOT NULL CHECK (state IN ('SUBMITTED', 'WITHDRAWN')),
    create_time   timestamptz NOT NULL,
    withdraw_time timestamptz,
    version       bigint      NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX applications_one_submitted
    ON partnerships.applications (year_id, school_id) WHERE state = 'SUBMITTED';
CREATE INDEX applications_listing ON partnerships.applications (year_id, create_time, id);

-- Rule 3: a non-innovative school's interest in one innovation.
CREATE TABLE partnerships.interests (
    id                   text        PRIMARY KEY,
    year_id              text        NOT NULL REFERENCES partnerships.years (id),
    school_id            text        NOT NULL REFERENCES partnerships.schools (id),
    innovation_school_id text        NOT NULL,
    innovation_id        text        NOT NULL,
    note                 text        NOT NULL,
    state                text        NOT NULL CHECK (state IN ('DECLARED', 'WITHDRAWN')),
    create_time          timestamptz NOT NULL,
    withdraw_time        timestamptz,
    version              bigint      NOT NULL DEFAULT 1,
    FOREIGN KEY (innovation_school_id, innovation_id)
        REFERENCES partnerships.innovations (school_id, id)
);
CREATE UNIQUE INDEX interests_declared_once
    ON partnerships.interests (year_id, school_id, innovation_school_id, innovation_id)
    WHERE state = 'DECLARED';
CREATE INDEX interests_by_innovative
    ON partnerships.interests (year_id, innovation_school_id, state);
CREATE INDEX interests_listing ON partnerships.interests (year_id, create_time, id);

-- Rules 2-4: contracts. At most one open (proposed or signed) contract between two
-- schools in a year.
CREATE TABLE partnerships.contracts (
    id                   text        PRIMARY KEY,
    year_id              text        NOT NULL REFERENCES partnerships.years (id),
    kind                 text        NOT NULL
        CHECK (kind IN ('INNOVATIVE_PAIR', 'INNOVATIVE_AND_NON_INNOVATIVE')),
    proposer_id          text        NOT NULL REFERENCES partnerships.schools (id),
    counterparty_id      text        NOT NULL REFERENCES partnerships.schools (id),
    innovation_school_id text,
    innovation_id        text,
    interest_id          text        REFERENCES partnerships.interests (id),
    note                 text        NOT NULL,
    shared_modules       smallint[]  NOT NULL,
    state                text        NOT NULL
        CHECK (state IN ('PROPOSED', 'SIGNED', 'WITHDRAWN', 'LAPSED')),
    group_id             text,
    withdrawn_by         text,
    withdraw_reason      text        NOT NULL DEFAULT '',
    lapse_reason         text        NOT NULL DEFAULT '',
    -- The school whose limit made it lapse, for the refusal a late signature gets.
    lapse_school         text,
    superseded_by        text,
    create_time          timestamptz NOT NULL,
    sign_time            timestamptz,
    update_time          timestamptz NOT NULL,
    version              bigint      NOT NULL DEFAULT 1,
    CHECK (proposer_id <> counterparty_id),
    CHECK ((kind = 'INNOVATIVE_AND_NON_INNOVATIVE') = (interest_id IS NOT NULL)),
    CHECK ((state = 'SIGNED') = (sign_time IS NOT NULL))
);
CREATE UNIQUE INDEX contracts_one_open
    ON partnerships.contracts (year_id, least(proposer_id, counterparty_id),
                               greatest(proposer_id, counterparty_id))
    WHERE state IN ('PROPOSED', 'SIGNED');
CREATE INDEX contracts_proposer ON partnerships.contracts (year_id, proposer_id, state);
CREATE INDEX contracts_counterparty ON partnerships.contracts (year_id, counterparty_id, state);
CREATE INDEX contracts_listing ON partnerships.contracts (year_id, create_time, id);

-- Rules 2 and 3 at the signature: what each school's signed contracts fill. An innovative
-- school has one INNOVATIVE_PARTNER slot and one NON_INNOVATIVE_PARTNER slot; a
-- non-innovative school one CONTRACTED slot. The key makes a second signature of the same
-- kind impossible, whatever the order of concurrent transactions.
CREATE TABLE partnerships.partner_slots (
    year_id     text NOT NULL REFERENCES partnerships.years (id),
    school_id   text NOT NULL REFERENCES partnerships.schools (id),
    slot        text NOT NULL
        CHECK (slot IN ('INNOVATIVE_PARTNER', 'NON_INNOVATIVE_PARTNER', 'CONTRACTED')),
    partner_id  text NOT NULL REFERENCES partnerships.schools (id),
    contract_id text NOT NULL REFERENCES partnerships.contracts (id),
    PRIMARY KEY (year_id, school_id, slot)
);

-- Rule 6: each school counted once per year against its kind's cap.
CREATE TABLE partnerships.contracted_schools (
    year_id    text    NOT NULL REFERENCES partnerships.years (id),
    school_id  text    NOT NULL REFERENCES partnerships.schools (id),
    innovative boolean NOT NULL,
    PRIMARY KEY (year_id, school_id)
);

-- Rule 5: groups of four, formed by the third signature; approved by the ministry. Side A
-- is the innovative school whose ID sorts first.
CREATE TABLE partnerships.groups (
    id              text        PRIMARY KEY,
    year_id         text        NOT NULL REFERENCES partnerships.years (id),
    pair_contract   text        NOT NULL UNIQUE REFERENCES partnerships.contracts (id),
    innovative_a    text        NOT NULL,
    partner_a       text        NOT NULL,
    contract_a      text        NOT NULL REFERENCES partnerships.contracts (id),
    innovative_b    text        NOT NULL,
    partner_b       text        NOT NULL,
    contract_b      text        NOT NULL REFERENCES partnerships.contracts (id),
    region_codes    text[]      NOT NULL,
    state           text        NOT NULL CHECK (state IN ('FORMED', 'APPROVED')),
    form_time       timestamptz NOT NULL,
    approve_time    timestamptz,
    version         bigint      NOT NULL DEFAULT 1,
    UNIQUE (year_id, innovative_a),
    UNIQUE (year_id, innovative_b),
    CHECK (innovative_a < innovative_b)
);
CREATE INDEX groups_listing ON partnerships.groups (year_id, form_time, id);

-- Rules 7 and 8: two mobilities per group, one hosted by each innovative school, the four
-- schools taking part (host, its partner, the visitor, its partner).
CREATE TABLE partnerships.mobilities (
    id            text        PRIMARY KEY,
    group_id      text        NOT NULL REFERENCES partnerships.groups (id),
    year_id       text        NOT NULL REFERENCES partnerships.years (id),
    host_school   text        NOT NULL,
    participants  text[]      NOT NULL CHECK (cardinality(participants) = 4),
    start_date    date,
    end_date      date,
    programme     text        NOT NULL DEFAULT '',
    state         text        NOT NULL
        CHECK (state IN ('PLANNING', 'ANNEX_FILED', 'HELD', 'ANNEX_MISSED')),
    annex_time    timestamptz,
    held_report   text        NOT NULL DEFAULT '',
    held_time     timestamptz,
    create_time   timestamptz NOT NULL,
    update_time   timestamptz NOT NULL,
    version       bigint      NOT NULL DEFAULT 1,
    UNIQUE (group_id, host_school),
    CHECK (end_date >= start_date),
    CHECK (state = 'PLANNING' OR (start_date IS NOT NULL AND end_date IS NOT NULL))
);
