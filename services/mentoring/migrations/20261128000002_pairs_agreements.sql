-- Pairs and groups (rules 3–5, 8; choice 1: one resource, `kind`) with their members, and
-- their agreements (rule 6; choice 10: recorded once signed). Keys are (institution_id, id)
-- as in the first file, so members and parties are always of the pair's institution.

CREATE TABLE mentoring.pairs (
    institution_id         text        NOT NULL REFERENCES mentoring.institutions (id),
    id                     text        NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    pair_type              text        NOT NULL CHECK (pair_type IN ('HEAD_CURATOR', 'CURATOR_EDUCATOR',
                               'EDUCATOR_COUNSELLOR', 'COUNSELLOR_VOLUNTEER', 'COUNSELLOR_PUPIL',
                               'VOLUNTEER_PUPIL')),
    form                   text        NOT NULL CHECK (form IN ('VIRTUAL', 'SHORT_TERM', 'REVERSE',
                               'SITUATIONAL', 'SPEED')),
    kind                   text        NOT NULL CHECK (kind IN ('PAIR', 'GROUP')),
    state                  text        NOT NULL DEFAULT 'FORMING' CHECK (state IN ('FORMING', 'ACTIVE',
                               'SUSPENDED', 'COMPLETED', 'CANCELLED')),
    -- FORMING, ACTIVE or SUSPENDED: the members' rows follow it (see pair_members).
    open                   boolean     GENERATED ALWAYS AS (state IN ('FORMING', 'ACTIVE', 'SUSPENDED')) STORED,
    goal                   text        NOT NULL DEFAULT '',
    -- Choice 9: the director's order fixing the pair, a field of the pair.
    order_number           text,
    order_date             date,
    order_record_time      timestamptz,
    activate_time          timestamptz,
    suspend_time           timestamptz,
    -- The members whose revocation suspended it.
    suspended_by           text[]      NOT NULL DEFAULT '{}',
    completion_reason      text        CHECK (completion_reason IN ('PLAN_COMPLETED', 'VALID_REASON',
                               'IMPROPER_EXECUTION', 'FORCE_MAJEURE', 'AGREEMENT_TERMINATED')),
    completion_initiator   text        CHECK (completion_initiator IN ('MENTOR', 'MENTEE', 'BOTH',
                               'CURATOR')),
    completion_explanation text        NOT NULL DEFAULT '',
    complete_date          date,
    complete_time          timestamptz,
    cancel_reason          text        NOT NULL DEFAULT '',
    create_time            timestamptz NOT NULL,
    update_time            timestamptz NOT NULL,
    version                bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (institution_id, id),
    -- For the members' copy of `open`.
    UNIQUE (institution_id, id, open),
    CHECK ((order_number IS NULL) = (order_date IS NULL)
           AND (order_number IS NULL) = (order_record_time IS NULL)),
    -- Rule 5: nothing is ACTIVE without the director's order.
    CHECK (state NOT IN ('ACTIVE', 'SUSPENDED') OR (order_number IS NOT NULL AND activate_time IS NOT NULL)),
    CHECK ((state = 'SUSPENDED') = (suspend_time IS NOT NULL)),
    CHECK ((state = 'COMPLETED') = (complete_time IS NOT NULL)
           AND (complete_time IS NULL) = (completion_reason IS NULL)
           AND (complete_time IS NULL) = (completion_initiator IS NULL)
           AND (complete_time IS NULL) = (complete_date IS NULL)),
    CHECK (state <> 'CANCELLED' OR activate_time IS NULL)
);
CREATE INDEX pairs_listing ON mentoring.pairs (institution_id, state, id);

-- The members of a pair or group with their side: one mentor, one mentee for a PAIR and 2
-- to 30 for a GROUP when formed (the store checks the counts through the domain). A mentee
-- who leaves a group keeps their row with `left_time` (the former mentees).
CREATE TABLE mentoring.pair_members (
    institution_id text        NOT NULL,
    pair_id        text        NOT NULL,
    participant_id text        NOT NULL,
    side           text        NOT NULL CHECK (side IN ('MENTOR', 'MENTEE')),
    -- Whether the pair is open: a copy of pairs.open, kept by the cascading foreign key
    -- below, so that the index under it can say "one open pair per mentee".
    pair_open      boolean     NOT NULL DEFAULT true,
    join_time      timestamptz NOT NULL,
    left_time      timestamptz,
    PRIMARY KEY (institution_id, pair_id, participant_id),
    FOREIGN KEY (institution_id, pair_id, pair_open)
        REFERENCES mentoring.pairs (institution_id, id, open) ON UPDATE CASCADE,
    FOREIGN KEY (institution_id, participant_id) REFERENCES mentoring.participants (institution_id, id),
    CHECK (left_time IS NULL OR left_time >= join_time),
    CHECK (side = 'MENTEE' OR left_time IS NULL)
);
-- Choice 1: a mentee is in one open pair or group at a time (the store checks it under the
-- mentee's row lock and answers MENTEE_ALREADY_PAIRED; this holds it whatever happens).
CREATE UNIQUE INDEX pair_members_one_open_pair_per_mentee
    ON mentoring.pair_members (institution_id, participant_id)
    WHERE side = 'MENTEE' AND pair_open AND left_time IS NULL;
-- One mentor per pair.
CREATE UNIQUE INDEX pair_members_one_mentor
    ON mentoring.pair_members (institution_id, pair_id) WHERE side = 'MENTOR';
CREATE INDEX pair_members_by_participant
    ON mentoring.pair_members (institution_id, participant_id, pair_id);

-- Rule 6: agreements, recorded signed; in force from the sign date for 1 to 36 months, 60
-- at most with extensions (choice 18). One in force per pair at a time.
CREATE TABLE mentoring.agreements (
    institution_id    text        NOT NULL,
    id                text        NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    pair_id           text        NOT NULL,
    tasks             text[]      NOT NULL CHECK (cardinality(tasks) BETWEEN 1 AND 20),
    duration_months   integer     NOT NULL CHECK (duration_months BETWEEN 1 AND 36),
    extension_months  integer     NOT NULL DEFAULT 0 CHECK (extension_months >= 0),
    sign_date         date        NOT NULL,
    -- The last day in force with every extension, as the domain computes it.
    end_date          date        NOT NULL,
    state             text        NOT NULL DEFAULT 'SIGNED' CHECK (state IN ('SIGNED', 'ENDED')),
    end_reason        text        CHECK (end_reason IN ('TERMINATED_BY_AGREEMENT',
                          'TERMINATED_UNILATERALLY', 'PROGRAMME_COMPLETED', 'MENTOR_REPLACED',
                          'PAIR_CANCELLED')),
    terminated_by     text        CHECK (terminated_by IN ('MENTOR', 'MENTEE')),
    end_explanation   text        NOT NULL DEFAULT '',
    end_time          timestamptz,
    create_time       timestamptz NOT NULL,
    update_time       timestamptz NOT NULL,
    version           bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (institution_id, id),
    FOREIGN KEY (institution_id, pair_id) REFERENCES mentoring.pairs (institution_id, id),
    CHECK (duration_months + extension_months <= 60),
    CHECK (end_date >= sign_date),
    CHECK ((state = 'ENDED') = (end_time IS NOT NULL)
           AND (end_time IS NULL) = (end_reason IS NULL)),
    -- Choice 10: only a unilateral termination names the side that terminated.
    CHECK ((end_reason = 'TERMINATED_UNILATERALLY') = (terminated_by IS NOT NULL))
);
CREATE UNIQUE INDEX agreements_one_signed_per_pair
    ON mentoring.agreements (institution_id, pair_id) WHERE state = 'SIGNED';
CREATE INDEX agreements_by_pair ON mentoring.agreements (institution_id, pair_id, sign_date DESC, id);

-- The parties: the pair's members when signed, or the representative who signed for a
-- minor (App. 3).
CREATE TABLE mentoring.agreement_parties (
    institution_id          text    NOT NULL,
    agreement_id            text    NOT NULL,
    participant_id          text    NOT NULL,
    side                    text    NOT NULL CHECK (side IN ('MENTOR', 'MENTEE')),
    representative_name     text    NOT NULL DEFAULT '',
    representative_relation text    CHECK (representative_relation IN ('PARENT', 'ADOPTIVE_PARENT',
                                'GUARDIAN', 'OTHER_LEGAL_REPRESENTATIVE')),
    -- A mentee who left the group.
    left_party              boolean NOT NULL DEFAULT false,
    PRIMARY KEY (institution_id, agreement_id, participant_id),
    FOREIGN KEY (institution_id, agreement_id) REFERENCES mentoring.agreements (institution_id, id),
    FOREIGN KEY (institution_id, participant_id) REFERENCES mentoring.participants (institution_id, id),
    CHECK ((representative_name = '') = (representative_relation IS NULL))
);

-- Extensions by mutual agreement, kept in order.
CREATE TABLE mentoring.agreement_extensions (
    institution_id text        NOT NULL,
    agreement_id   text        NOT NULL,
    seq            integer     NOT NULL CHECK (seq >= 1),
    months         integer     NOT NULL CHECK (months BETWEEN 1 AND 36),
    basis          text        NOT NULL CHECK (length(basis) BETWEEN 1 AND 300),
    agree_date     date        NOT NULL,
    record_time    timestamptz NOT NULL,
    PRIMARY KEY (institution_id, agreement_id, seq),
    FOREIGN KEY (institution_id, agreement_id) REFERENCES mentoring.agreements (institution_id, id)
);

-- Violations of clause 2 by one party: three against the other party make a unilateral
-- termination possible (choice 10).
CREATE TABLE mentoring.agreement_violations (
    institution_id text        NOT NULL,
    agreement_id   text        NOT NULL,
    seq            integer     NOT NULL CHECK (seq >= 1),
    violator_id    text        NOT NULL,
    violator_side  text        NOT NULL CHECK (violator_side IN ('MENTOR', 'MENTEE')),
    description    text        NOT NULL CHECK (length(description) BETWEEN 1 AND 2000),
    occur_date     date        NOT NULL,
    record_time    timestamptz NOT NULL,
    PRIMARY KEY (institution_id, agreement_id, seq),
    FOREIGN KEY (institution_id, agreement_id, violator_id)
        REFERENCES mentoring.agreement_parties (institution_id, agreement_id, participant_id)
);
