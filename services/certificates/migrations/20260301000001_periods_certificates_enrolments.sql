-- Personified financing (shared/domain/certificates.md): periods, children with consent,
-- certificates, the registry of providers and programmes, enrolments, the ledger of every
-- money movement, and monthly reports. Amounts are whole kopecks (bigint).

CREATE TABLE certificates.periods (
    id                 text        PRIMARY KEY,
    region_code        text        NOT NULL,
    municipality_code  text        NOT NULL,
    municipality_name  text        NOT NULL,
    time_zone          text        NOT NULL,
    start_date         date        NOT NULL,
    end_date           date        NOT NULL CHECK (end_date > start_date),
    nominal            bigint      NOT NULL CHECK (nominal > 0),
    quota              integer     NOT NULL CHECK (quota >= 0),
    min_age            smallint    NOT NULL CHECK (min_age >= 0),
    max_age            smallint    NOT NULL CHECK (max_age >= min_age),
    currency           text        NOT NULL,
    credit_time        timestamptz,
    create_time        timestamptz NOT NULL,
    UNIQUE (region_code, municipality_code, start_date)
);

-- Consent comes first: a child row points at the consent recorded before it.
CREATE TABLE certificates.consents (
    id              text        PRIMARY KEY,
    parent_subject  text        NOT NULL,
    parent_name     text        NOT NULL,
    give_time       timestamptz NOT NULL,
    record_time     timestamptz NOT NULL
);

-- Children are personal data: read by their parents and their municipality's operator only.
CREATE TABLE certificates.children (
    id                 text        PRIMARY KEY,
    display_name       text        NOT NULL,
    identity_document  text        NOT NULL UNIQUE,
    birth_date         date        NOT NULL,
    region_code        text        NOT NULL,
    municipality_code  text        NOT NULL,
    consent_id         text        NOT NULL UNIQUE REFERENCES certificates.consents (id),
    create_time        timestamptz NOT NULL
);
CREATE INDEX children_municipality ON certificates.children (region_code, municipality_code, create_time, id);

-- One certificate per child, ever (rule 1): the unique child is what two racing issues meet.
CREATE TABLE certificates.certificates (
    id           text        PRIMARY KEY,
    child_id     text        NOT NULL UNIQUE REFERENCES certificates.children (id),
    number       text        NOT NULL UNIQUE,
    state        text        NOT NULL CHECK (state IN ('ACTIVE', 'SUSPENDED', 'CLOSED')),
    issue_time   timestamptz NOT NULL,
    update_time  timestamptz NOT NULL,
    version      bigint      NOT NULL DEFAULT 1
);

-- Rule 2: whether a certificate is funded in a period, decided when the period is credited.
CREATE TABLE certificates.period_certificates (
    period_id       text NOT NULL REFERENCES certificates.periods (id),
    certificate_id  text NOT NULL REFERENCES certificates.certificates (id),
    kind            text NOT NULL CHECK (kind IN ('FUNDED', 'ACCOUNTING')),
    PRIMARY KEY (period_id, certificate_id)
);

CREATE TABLE certificates.providers (
    id                 text        PRIMARY KEY,
    display_name       text        NOT NULL,
    tax_id             text        NOT NULL UNIQUE,
    region_code        text        NOT NULL,
    municipality_code  text        NOT NULL,
    included           boolean     NOT NULL DEFAULT true,
    exclusion_reason   text        NOT NULL DEFAULT '',
    create_time        timestamptz NOT NULL
);

-- `taken` counts accepted enrolments that have not ended; the check is the last line of
-- defence behind the row lock the acceptance takes (rule 5).
CREATE TABLE certificates.programmes (
    provider_id    text        NOT NULL REFERENCES certificates.providers (id),
    id             text        NOT NULL,
    title          text        NOT NULL,
    description    text        NOT NULL DEFAULT '',
    direction      text        NOT NULL CHECK (direction IN ('TECHNICAL', 'NATURAL_SCIENCE',
        'PHYSICAL_CULTURE_AND_SPORTS', 'ARTISTIC', 'TOURISM_AND_LOCAL_HISTORY', 'SOCIAL_HUMANITARIAN')),
    min_age        smallint    NOT NULL,
    max_age        smallint    NOT NULL CHECK (max_age >= min_age),
    seats          integer     NOT NULL CHECK (seats > 0),
    taken          integer     NOT NULL DEFAULT 0 CHECK (taken >= 0 AND taken <= seats),
    schedule       text        NOT NULL DEFAULT '',
    monthly_price  bigint      NOT NULL CHECK (monthly_price >= 0),
    certified      boolean     NOT NULL DEFAULT false,
    rating_sum     integer     NOT NULL DEFAULT 0,
    rating_count   integer     NOT NULL DEFAULT 0,
    create_time    timestamptz NOT NULL,
    PRIMARY KEY (provider_id, id)
);

CREATE TABLE certificates.enrolments (
    id               text        PRIMARY KEY,
    certificate_id   text        NOT NULL REFERENCES certificates.certificates (id),
    provider_id      text        NOT NULL,
    programme_id     text        NOT NULL,
    period_id        text        NOT NULL REFERENCES certificates.periods (id),
    start_date       date        NOT NULL,
    end_date         date,
    state            text        NOT NULL
        CHECK (state IN ('REQUESTED', 'WAITLISTED', 'ACCEPTED', 'DECLINED', 'ENDED')),
    monthly_price    bigint      NOT NULL CHECK (monthly_price >= 0),
    reserved         bigint      NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    rating           smallint    CHECK (rating BETWEEN 1 AND 5),
    rating_comment   text        NOT NULL DEFAULT '',
    create_time      timestamptz NOT NULL,
    update_time      timestamptz NOT NULL,
    version          bigint      NOT NULL DEFAULT 1,
    FOREIGN KEY (provider_id, programme_id) REFERENCES certificates.programmes (provider_id, id)
);
CREATE INDEX enrolments_certificate ON certificates.enrolments (certificate_id, create_time, id);
CREATE INDEX enrolments_programme ON certificates.enrolments (provider_id, programme_id, state, create_time, id);

-- Every money movement (rules 3 and 7). The balance is summed from here, never kept apart.
CREATE TABLE certificates.ledger (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    certificate_id  text        NOT NULL REFERENCES certificates.certificates (id),
    period_id       text        NOT NULL REFERENCES certificates.periods (id),
    kind            text        NOT NULL CHECK (kind IN ('CREDIT', 'RESERVE', 'RELEASE', 'CHARGE')),
    amount          bigint      NOT NULL CHECK (amount > 0),
    enrolment_id    text        REFERENCES certificates.enrolments (id),
    month           date,
    record_time     timestamptz NOT NULL,
    CHECK ((kind = 'CREDIT') = (enrolment_id IS NULL)),
    CHECK ((kind = 'CHARGE') = (month IS NOT NULL))
);
CREATE INDEX ledger_certificate ON certificates.ledger (certificate_id, period_id, id);
-- A period is credited once per certificate; a month is charged once per enrolment.
CREATE UNIQUE INDEX ledger_one_credit ON certificates.ledger (certificate_id, period_id)
    WHERE kind = 'CREDIT';
CREATE UNIQUE INDEX ledger_one_charge ON certificates.ledger (enrolment_id, month)
    WHERE kind = 'CHARGE';

-- A provider's report of a delivered month, approved by the operator (rule 6).
CREATE TABLE certificates.month_reports (
    provider_id     text        NOT NULL REFERENCES certificates.providers (id),
    month           date        NOT NULL CHECK (extract(day FROM month) = 1),
    enrolment_ids   text[]      NOT NULL,
    amount          bigint      NOT NULL,
    state           text        NOT NULL CHECK (state IN ('REPORTED', 'APPROVED')),
    report_time     timestamptz NOT NULL,
    approve_time    timestamptz,
    PRIMARY KEY (provider_id, month)
);
