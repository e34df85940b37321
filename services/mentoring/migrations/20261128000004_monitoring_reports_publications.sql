-- Monitoring (rule 10, choice 14), the yearly report (rule 10, choice 15), information
-- support (rule 12) and the bank of best practices (rule 11, choice 17).

-- A round per season and year, named by the year and month due (`2024-12`, `2025-05`).
-- Its questions are kept in order as parallel arrays (≤ 30, choice 18).
CREATE TABLE mentoring.monitoring_rounds (
    institution_id     text        NOT NULL REFERENCES mentoring.institutions (id),
    id                 text        NOT NULL CHECK (id ~ '^[0-9]{4}-(05|12)$'),
    year               smallint    NOT NULL,
    season             text        NOT NULL CHECK (season IN ('DECEMBER', 'MAY')),
    question_ids       text[]      NOT NULL,
    question_texts     text[]      NOT NULL,
    question_kinds     text[]      NOT NULL,
    -- MENTOR, MENTEE, or '' for both sides.
    question_audiences text[]      NOT NULL,
    state              text        NOT NULL DEFAULT 'OPEN' CHECK (state IN ('OPEN', 'SUBMITTED')),
    submit_time        timestamptz,
    -- Judged by the domain at the submission instant in the institution's zone.
    late               boolean     NOT NULL DEFAULT false,
    summary            text        NOT NULL DEFAULT '' CHECK (length(summary) <= 5000),
    create_time        timestamptz NOT NULL,
    update_time        timestamptz NOT NULL,
    version            bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (institution_id, id),
    CHECK (cardinality(question_ids) BETWEEN 1 AND 30
           AND cardinality(question_texts) = cardinality(question_ids)
           AND cardinality(question_kinds) = cardinality(question_ids)
           AND cardinality(question_audiences) = cardinality(question_ids)),
    CHECK (question_kinds <@ ARRAY['SCALE', 'TEXT']),
    CHECK ((state = 'SUBMITTED') = (submit_time IS NOT NULL)),
    CHECK (state = 'SUBMITTED' OR NOT late)
);

-- A result per pair or group taking part: the curator's assessment and conclusion.
CREATE TABLE mentoring.pair_results (
    institution_id text        NOT NULL,
    round_id       text        NOT NULL,
    id             text        NOT NULL,
    pair_id        text        NOT NULL,
    assessment     text        CHECK (assessment IN ('EFFECTIVE', 'PARTLY_EFFECTIVE', 'NOT_EFFECTIVE')),
    conclusion     text        NOT NULL DEFAULT '' CHECK (length(conclusion) <= 5000),
    update_time    timestamptz NOT NULL,
    version        bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (institution_id, round_id, id),
    UNIQUE (institution_id, round_id, pair_id),
    FOREIGN KEY (institution_id, round_id) REFERENCES mentoring.monitoring_rounds (institution_id, id),
    FOREIGN KEY (institution_id, pair_id) REFERENCES mentoring.pairs (institution_id, id)
);

-- A questionnaire per member of a pair taking part who is not redacted; WITHDRAWN when the
-- member revokes their consent before answering (or leaves).
CREATE TABLE mentoring.questionnaires (
    institution_id text        NOT NULL,
    round_id       text        NOT NULL,
    id             text        NOT NULL,
    pair_id        text        NOT NULL,
    participant_id text        NOT NULL,
    side           text        NOT NULL CHECK (side IN ('MENTOR', 'MENTEE')),
    state          text        NOT NULL DEFAULT 'SENT' CHECK (state IN ('SENT', 'ANSWERED', 'WITHDRAWN')),
    answer_time    timestamptz,
    answered_by    text        CHECK (answered_by IN ('SUBJECT', 'GUARDIAN', 'STAFF')),
    create_time    timestamptz NOT NULL,
    update_time    timestamptz NOT NULL,
    version        bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (institution_id, round_id, id),
    UNIQUE (institution_id, round_id, pair_id, participant_id),
    FOREIGN KEY (institution_id, round_id, pair_id)
        REFERENCES mentoring.pair_results (institution_id, round_id, pair_id),
    FOREIGN KEY (institution_id, participant_id) REFERENCES mentoring.participants (institution_id, id),
    CHECK ((answer_time IS NULL) = (answered_by IS NULL)),
    CHECK (state <> 'ANSWERED' OR answer_time IS NOT NULL)
);
CREATE INDEX questionnaires_by_participant
    ON mentoring.questionnaires (institution_id, participant_id, state);

-- The answers; replaced whole when answered again while the round is OPEN.
CREATE TABLE mentoring.answers (
    institution_id   text    NOT NULL,
    round_id         text    NOT NULL,
    questionnaire_id text    NOT NULL,
    question_id      text    NOT NULL,
    score            integer CHECK (score BETWEEN 1 AND 10),
    text             text    CHECK (length(text) BETWEEN 1 AND 2000),
    PRIMARY KEY (institution_id, round_id, questionnaire_id, question_id),
    FOREIGN KEY (institution_id, round_id, questionnaire_id)
        REFERENCES mentoring.questionnaires (institution_id, round_id, id) ON DELETE CASCADE,
    CHECK ((score IS NULL) <> (text IS NULL))
);

-- Submitted yearly reports with their figures fixed; a DRAFT is not stored (its figures are
-- read at the call). The rows are the report's rows as the store computed them.
CREATE TABLE mentoring.yearly_reports (
    institution_id text        NOT NULL REFERENCES mentoring.institutions (id),
    year           smallint    NOT NULL,
    submit_time    timestamptz NOT NULL,
    late           boolean     NOT NULL,
    -- Section, code, participants, mentors, mentees, pairs, groups: one array per column.
    sections       text[]      NOT NULL,
    codes          text[]      NOT NULL,
    participants   integer[]   NOT NULL,
    mentors        integer[]   NOT NULL,
    mentees        integer[]   NOT NULL,
    pairs          integer[]   NOT NULL,
    groups         integer[]   NOT NULL,
    activated      integer     NOT NULL,
    completed      integer     NOT NULL,
    mentors_trained integer    NOT NULL,
    version        bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (institution_id, year)
);

-- Rule 12: the media plan's publications.
CREATE TABLE mentoring.publications (
    institution_id  text        NOT NULL REFERENCES mentoring.institutions (id),
    id              text        NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    kind            text        NOT NULL CHECK (kind IN ('PRESS_RELEASE', 'POST_RELEASE', 'DIGEST',
                        'PHOTO_ALBUM', 'PLAYLIST', 'LONGREAD', 'OTHER')),
    title           text        NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    event_title     text        NOT NULL DEFAULT '',
    event_date      date,
    channels        text[]      NOT NULL CHECK (cardinality(channels) >= 1
                        AND channels <@ ARRAY['WEBSITE', 'VK', 'EXTERNAL']),
    featured        text[]      NOT NULL DEFAULT '{}' CHECK (cardinality(featured) <= 50),
    state           text        NOT NULL DEFAULT 'PLANNED' CHECK (state IN ('PLANNED', 'PUBLISHED', 'CANCELLED')),
    uri             text        NOT NULL DEFAULT '',
    publish_time    timestamptz,
    -- Flagged when a featured person revoked a consent (rule 1).
    consent_revoked boolean     NOT NULL DEFAULT false,
    cancel_reason   text        NOT NULL DEFAULT '',
    create_time     timestamptz NOT NULL,
    update_time     timestamptz NOT NULL,
    version         bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (institution_id, id),
    CHECK (kind NOT IN ('PRESS_RELEASE', 'POST_RELEASE') OR event_date IS NOT NULL),
    CHECK ((state = 'PUBLISHED') = (publish_time IS NOT NULL))
);
CREATE INDEX publications_listing ON mentoring.publications (institution_id, create_time, id);
CREATE INDEX publications_featured ON mentoring.publications USING gin (featured);

-- Rule 11, choice 17: the bank of best practices; they name nobody.
CREATE TABLE mentoring.practices (
    institution_id text        NOT NULL REFERENCES mentoring.institutions (id),
    id             text        NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    title          text        NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    summary        text        NOT NULL CHECK (length(summary) BETWEEN 1 AND 10000),
    results        text        NOT NULL DEFAULT '' CHECK (length(results) <= 5000),
    form           text        CHECK (form IN ('VIRTUAL', 'SHORT_TERM', 'REVERSE', 'SITUATIONAL', 'SPEED')),
    pair_type      text        CHECK (pair_type IN ('HEAD_CURATOR', 'CURATOR_EDUCATOR',
                       'EDUCATOR_COUNSELLOR', 'COUNSELLOR_VOLUNTEER', 'COUNSELLOR_PUPIL', 'VOLUNTEER_PUPIL')),
    year           smallint    NOT NULL CHECK (year >= 2019),
    materials_uri  text        NOT NULL DEFAULT '' CHECK (length(materials_uri) <= 2000),
    create_time    timestamptz NOT NULL,
    PRIMARY KEY (institution_id, id)
);
CREATE INDEX practices_listing ON mentoring.practices (institution_id, create_time, id);
