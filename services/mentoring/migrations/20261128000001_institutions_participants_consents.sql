-- The mentoring service (shared/domain/mentoring.md): institutions with their road maps,
-- participants and their consents. Names are schema-qualified so that queries say where
-- they read. Every table carries its institution, and keys inside an institution are
-- (institution_id, id), so a reference can never cross from one tenant into another.
--
-- Rule 1, consent first: nothing about a person is stored before their consent to
-- PERSONAL_DATA. A participant row names the consent it was created with, through a foreign
-- key checked at commit (DEFERRABLE INITIALLY DEFERRED), so the person and that consent are
-- written in one transaction or not at all.

-- Rule 1: an institution, its zone (for "today" and receipt years), its region (the
-- regional centre's tenancy) and the curator the director appointed.
CREATE TABLE mentoring.institutions (
    id                        text        PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{0,62}$'),
    display_name              text        NOT NULL CHECK (length(display_name) BETWEEN 1 AND 500),
    short_name                text        NOT NULL DEFAULT '',
    region_code               text        NOT NULL CHECK (region_code ~ '^RU-[A-Z]{2,3}$'),
    -- An IANA name; the store checks that jiff knows it before it is stored.
    time_zone                 text        NOT NULL CHECK (time_zone ~ '^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$'),
    regulation                text        NOT NULL DEFAULT '',
    -- The appointed curator (a participant of this institution); the foreign key is added
    -- below, once participants exist.
    curator_id                text,
    curator_appointment_basis text        NOT NULL DEFAULT '',
    curator_appoint_time      timestamptz,
    road_map_state            text        NOT NULL DEFAULT 'DRAFT'
        CHECK (road_map_state IN ('DRAFT', 'APPROVED')),
    road_map_approve_time     timestamptz,
    create_time               timestamptz NOT NULL,
    update_time               timestamptz NOT NULL,
    version                   bigint      NOT NULL DEFAULT 1,
    CHECK ((curator_id IS NULL) = (curator_appoint_time IS NULL)),
    CHECK ((road_map_state = 'APPROVED') = (road_map_approve_time IS NOT NULL))
);
CREATE INDEX institutions_by_region ON mentoring.institutions (region_code, id);

-- Rule 11: the road map's seven stages, one row each, created with the institution.
CREATE TABLE mentoring.road_map_stages (
    institution_id     text        NOT NULL REFERENCES mentoring.institutions (id),
    kind               text        NOT NULL CHECK (kind IN ('PREPARING_CONDITIONS', 'MENTEE_BANK',
                           'MENTOR_BANK', 'SELECTION_AND_TRAINING', 'PAIRS_AT_WORK', 'COMPLETION',
                           'INFORMATION_SUPPORT')),
    activities         text        NOT NULL DEFAULT '',
    planned_start_date date,
    planned_end_date   date,
    actual_start_date  date,
    actual_end_date    date,
    update_time        timestamptz NOT NULL,
    version            bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (institution_id, kind),
    CHECK (planned_end_date IS NULL OR planned_start_date IS NULL OR planned_end_date >= planned_start_date),
    CHECK (actual_end_date IS NULL OR (actual_start_date IS NOT NULL AND actual_end_date >= actual_start_date))
);

-- Rule 1: participants with their one role; rule 2: their bank entries (choice 2: entries
-- on the participant, not resources of their own) and the mentors' training. The personal
-- columns stay stored after a revocation (choice 8: revocation hides, it does not erase);
-- the store shows them only while a consent to PERSONAL_DATA is in force.
CREATE TABLE mentoring.participants (
    institution_id         text        NOT NULL REFERENCES mentoring.institutions (id),
    id                     text        NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    role                   text        NOT NULL CHECK (role IN ('HEAD', 'CURATOR', 'EDUCATOR',
                               'COUNSELLOR', 'VOLUNTEER', 'PUPIL', 'YOUNG_SPECIALIST', 'TEACHER')),
    -- The token subject the person signs in with; empty when they never do.
    subject                text        NOT NULL DEFAULT '',
    family_name            text        NOT NULL CHECK (length(family_name) BETWEEN 1 AND 300),
    given_name             text        NOT NULL CHECK (length(given_name) BETWEEN 1 AND 300),
    patronymic             text        NOT NULL DEFAULT '',
    birth_date             date        NOT NULL,
    position               text        NOT NULL DEFAULT '',
    phone                  text        NOT NULL DEFAULT '',
    email                  text        NOT NULL DEFAULT '',
    -- The bank of mentors: in it while `mentor_profile`; its request, competences, forms.
    mentor_profile         boolean     NOT NULL DEFAULT false,
    mentor_competences     text[]      NOT NULL DEFAULT '{}' CHECK (cardinality(mentor_competences) <= 30),
    mentor_request         text        NOT NULL DEFAULT '',
    mentor_experience      text        NOT NULL DEFAULT '',
    mentor_forms           text[]      NOT NULL DEFAULT '{}',
    -- The bank of mentees.
    mentee_profile         boolean     NOT NULL DEFAULT false,
    mentee_request         text        NOT NULL DEFAULT '',
    mentee_competences     text[]      NOT NULL DEFAULT '{}' CHECK (cardinality(mentee_competences) <= 30),
    mentee_forms           text[]      NOT NULL DEFAULT '{}',
    -- Rule 2: the mentors' training; history once recorded (replaced, never cleared).
    training_complete_date date,
    training_programme     text,
    training_record_time   timestamptz,
    -- The consent to PERSONAL_DATA this person was recorded with (see the file's head).
    first_consent_id       text        NOT NULL,
    first_consent_purpose  text        NOT NULL DEFAULT 'PERSONAL_DATA'
        CHECK (first_consent_purpose = 'PERSONAL_DATA'),
    create_time            timestamptz NOT NULL,
    update_time            timestamptz NOT NULL,
    version                bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (institution_id, id),
    CHECK ((training_complete_date IS NULL) = (training_record_time IS NULL)
           AND (training_complete_date IS NULL) = (training_programme IS NULL)),
    CHECK (mentor_forms <@ ARRAY['VIRTUAL', 'SHORT_TERM', 'REVERSE', 'SITUATIONAL', 'SPEED']),
    CHECK (mentee_forms <@ ARRAY['VIRTUAL', 'SHORT_TERM', 'REVERSE', 'SITUATIONAL', 'SPEED'])
);
-- A subject signs in as one participant of an institution.
CREATE UNIQUE INDEX participants_one_per_subject
    ON mentoring.participants (institution_id, subject) WHERE subject <> '';
CREATE INDEX participants_listing ON mentoring.participants (institution_id, role, id);

ALTER TABLE mentoring.institutions
    ADD FOREIGN KEY (id, curator_id) REFERENCES mentoring.participants (institution_id, id);

-- Rule 1: consents, one record per consent given; a revocation changes the record, which
-- stays REVOKED (a new consent is a new record). Each carries the receipt the person keeps
-- (choice 6), and a revocation its own receipt. The texts name the person; the store shows
-- them only while the person is not redacted, the numbers and hashes always.
CREATE TABLE mentoring.consents (
    institution_id             text        NOT NULL,
    id                         text        NOT NULL,
    participant_id             text        NOT NULL,
    purpose                    text        NOT NULL CHECK (purpose IN ('PERSONAL_DATA', 'PUBLICATION')),
    state                      text        NOT NULL DEFAULT 'GIVEN' CHECK (state IN ('GIVEN', 'REVOKED')),
    -- Choice 6: the parent or legal representative who gave it (for a minor, always; the
    -- store checks the age, which is the participant's).
    guardian_family_name       text,
    guardian_given_name        text,
    guardian_patronymic        text,
    guardian_relation          text        CHECK (guardian_relation IN ('PARENT', 'ADOPTIVE_PARENT',
                                   'GUARDIAN', 'OTHER_LEGAL_REPRESENTATIVE')),
    guardian_subject           text,
    give_date                  date        NOT NULL,
    document                   text        NOT NULL DEFAULT '',
    receipt_number             text        NOT NULL,
    receipt_issue_time         timestamptz NOT NULL,
    receipt_text               text        NOT NULL,
    receipt_sha256             text        NOT NULL CHECK (receipt_sha256 ~ '^[0-9a-f]{64}$'),
    create_time                timestamptz NOT NULL,
    revoke_time                timestamptz,
    revoked_by                 text        CHECK (revoked_by IN ('SUBJECT', 'GUARDIAN', 'STAFF')),
    revocation_statement       text        NOT NULL DEFAULT '',
    revocation_receipt_number  text,
    revocation_receipt_text    text,
    revocation_receipt_sha256  text        CHECK (revocation_receipt_sha256 ~ '^[0-9a-f]{64}$'),
    update_time                timestamptz NOT NULL,
    version                    bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (institution_id, id),
    -- For the participants' deferred reference to the consent they were recorded with.
    UNIQUE (institution_id, id, purpose),
    FOREIGN KEY (institution_id, participant_id)
        REFERENCES mentoring.participants (institution_id, id) DEFERRABLE INITIALLY DEFERRED,
    -- A guardian is named whole or not at all.
    CHECK ((guardian_family_name IS NULL) = (guardian_given_name IS NULL)
           AND (guardian_family_name IS NULL) = (guardian_relation IS NULL)
           AND (guardian_family_name IS NULL) = (guardian_patronymic IS NULL)),
    -- Revoked exactly when it has a revocation time, who revoked it and a receipt for it.
    CHECK ((state = 'REVOKED') = (revoke_time IS NOT NULL)
           AND (state = 'REVOKED') = (revoked_by IS NOT NULL)
           AND (state = 'REVOKED') = (revocation_receipt_number IS NOT NULL)
           AND (revocation_receipt_number IS NULL) = (revocation_receipt_text IS NULL)
           AND (revocation_receipt_number IS NULL) = (revocation_receipt_sha256 IS NULL)),
    CHECK (revoke_time IS NULL OR revoke_time >= create_time)
);
-- At most one consent in force per person and purpose: a second is ALREADY_EXISTS.
CREATE UNIQUE INDEX consents_one_in_force
    ON mentoring.consents (institution_id, participant_id, purpose) WHERE state = 'GIVEN';
CREATE INDEX consents_by_participant
    ON mentoring.consents (institution_id, participant_id, create_time, id);
-- A receipt number is unique in its institution, for consents and revocations alike (the
-- serials come from one counter).
CREATE UNIQUE INDEX consents_receipt_number ON mentoring.consents (institution_id, receipt_number);
CREATE UNIQUE INDEX consents_revocation_receipt_number
    ON mentoring.consents (institution_id, revocation_receipt_number)
    WHERE revocation_receipt_number IS NOT NULL;

ALTER TABLE mentoring.participants
    ADD FOREIGN KEY (institution_id, first_consent_id, first_consent_purpose)
        REFERENCES mentoring.consents (institution_id, id, purpose) DEFERRABLE INITIALLY DEFERRED;

-- The serials of receipts, per institution and year of issue in its zone: counted without
-- gaps, as the receipt's number promises. Taking one locks the year's row to the end of the
-- transaction, so receipts of one institution are issued one after another.
CREATE TABLE mentoring.receipt_serials (
    institution_id text    NOT NULL REFERENCES mentoring.institutions (id),
    year           smallint NOT NULL,
    last_serial    integer NOT NULL CHECK (last_serial >= 1),
    PRIMARY KEY (institution_id, year)
);
