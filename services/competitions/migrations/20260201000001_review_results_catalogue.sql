-- Expert review, results, the catalogue with its replications, winners' follow-ups, and the
-- outbox of change events (rules 5-11 of shared/domain/competitions.md).

-- Experts of one contest. Their region and subject decide conflicts of interest (rule 5).
CREATE TABLE competitions.experts (
    contest_id      text        NOT NULL REFERENCES competitions.contests (id),
    id              text        NOT NULL,
    subject         text        NOT NULL,
    display_name    text        NOT NULL,
    region_code     text        NOT NULL,
    organisation    text        NOT NULL DEFAULT '',
    -- Nominations the expert reviews; empty for all.
    nomination_ids  text[]      NOT NULL DEFAULT '{}',
    create_time     timestamptz NOT NULL,
    PRIMARY KEY (contest_id, id),
    UNIQUE (contest_id, subject)
);
-- "Which experts is this caller" is asked on every expert's call.
CREATE INDEX experts_subject ON competitions.experts (subject, contest_id);

-- One expert's review of one application (rules 5 and 6).
CREATE TABLE competitions.reviews (
    contest_id      text        NOT NULL,
    application_id  text        NOT NULL,
    id              text        NOT NULL,
    expert_id       text        NOT NULL,
    state           text        NOT NULL CHECK (state IN ('ASSIGNED', 'IN_PROGRESS', 'COMPLETED')),
    -- [{"criterion_id": …, "score": …}] in the rubric's order.
    scores          jsonb       NOT NULL DEFAULT '[]',
    feedback        text        NOT NULL DEFAULT '',
    weighted_score  double precision,
    create_time     timestamptz NOT NULL,
    update_time     timestamptz NOT NULL,
    complete_time   timestamptz,
    version         bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (contest_id, application_id, id),
    UNIQUE (contest_id, application_id, expert_id),
    FOREIGN KEY (contest_id, application_id) REFERENCES competitions.applications (contest_id, id),
    FOREIGN KEY (contest_id, expert_id) REFERENCES competitions.experts (contest_id, id),
    CHECK ((state = 'COMPLETED') = (complete_time IS NOT NULL AND weighted_score IS NOT NULL))
);
CREATE INDEX reviews_expert ON competitions.reviews (contest_id, expert_id);

-- The organiser's choice of winners per nomination (rule 7), before the announcement.
CREATE TABLE competitions.winner_choices (
    contest_id        text        NOT NULL,
    nomination_id     text        NOT NULL,
    application_ids   text[]      NOT NULL,
    departure_reason  text        NOT NULL DEFAULT '',
    update_time       timestamptz NOT NULL,
    PRIMARY KEY (contest_id, nomination_id),
    FOREIGN KEY (contest_id, nomination_id) REFERENCES competitions.nominations (contest_id, id)
);

-- The announced results: the rankings as they stood at the announcement, never changed.
CREATE TABLE competitions.results (
    contest_id         text             NOT NULL,
    nomination_id      text             NOT NULL,
    application_id     text             NOT NULL,
    rank               integer          NOT NULL CHECK (rank >= 1),
    score              double precision,
    completed_reviews  integer          NOT NULL,
    tie_break          text             NOT NULL DEFAULT '',
    winner             boolean          NOT NULL,
    PRIMARY KEY (contest_id, nomination_id, application_id),
    UNIQUE (contest_id, nomination_id, rank),
    FOREIGN KEY (contest_id, application_id) REFERENCES competitions.applications (contest_id, id)
);

-- The public catalogue of winning practices (rules 8-9): a copy made at the announcement,
-- searchable with the `russian` text search configuration (stemming, case folding).
CREATE TABLE competitions.practices (
    id                 text        PRIMARY KEY,
    contest_id         text        NOT NULL,
    application_id     text        NOT NULL,
    title              text        NOT NULL,
    summary            text        NOT NULL,
    description        text        NOT NULL,
    nomination_id      text        NOT NULL,
    nomination_title   text        NOT NULL,
    region_code        text        NOT NULL,
    team_display_name  text        NOT NULL,
    year               integer     NOT NULL,
    publish_time       timestamptz NOT NULL,
    search             tsvector    GENERATED ALWAYS AS (
        setweight(to_tsvector('russian', title), 'A')
        || setweight(to_tsvector('russian', summary), 'B')
        || setweight(to_tsvector('russian', description), 'C')
    ) STORED,
    UNIQUE (contest_id, application_id),
    FOREIGN KEY (contest_id, application_id) REFERENCES competitions.applications (contest_id, id)
);
CREATE INDEX practices_search ON competitions.practices USING gin (search);
CREATE INDEX practices_listing ON competitions.practices (publish_time DESC, id);

-- A region's replication of a practice (rule 10). The contact is personal data.
CREATE TABLE competitions.replications (
    practice_id      text        NOT NULL REFERENCES competitions.practices (id),
    id               text        NOT NULL,
    region_code      text        NOT NULL,
    contact_name     text        NOT NULL,
    contact_details  text        NOT NULL,
    plan             text        NOT NULL,
    state            text        NOT NULL
        CHECK (state IN ('REQUESTED', 'IN_PROGRESS', 'IMPLEMENTED', 'DECLINED')),
    decline_reason   text        NOT NULL DEFAULT '',
    create_time      timestamptz NOT NULL,
    update_time      timestamptz NOT NULL,
    version          bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (practice_id, id)
);
-- A region pursues a practice once at a time; after a decline it may ask again.
CREATE UNIQUE INDEX replications_one_per_region ON competitions.replications (practice_id, region_code)
    WHERE state <> 'DECLINED';
CREATE INDEX replications_listing ON competitions.replications (create_time, practice_id, id);

-- Invitations of winners to presentation sessions and accelerators (rule 11).
CREATE TABLE competitions.invitations (
    contest_id      text        NOT NULL,
    id              text        NOT NULL,
    application_id  text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('PRESENTATION_SESSION', 'ACCELERATOR')),
    title           text        NOT NULL,
    start_time      timestamptz,
    state           text        NOT NULL CHECK (state IN ('INVITED', 'ACCEPTED', 'DECLINED', 'ATTENDED')),
    create_time     timestamptz NOT NULL,
    update_time     timestamptz NOT NULL,
    PRIMARY KEY (contest_id, id),
    FOREIGN KEY (contest_id, application_id) REFERENCES competitions.applications (contest_id, id)
);
CREATE INDEX invitations_listing ON competitions.invitations (contest_id, create_time, id);

-- The transactional outbox: one row per change event, written in the change's transaction.
-- Served in (xid, position) order and only below the oldest running transaction's xid, so
-- that a reader never passes a row that is still to commit (store/events.rs explains why).
CREATE TABLE competitions.outbox (
    position    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid         xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_type  text        NOT NULL
        CHECK (event_type IN ('APPLICATION_SUBMITTED', 'REVIEW_COMPLETED', 'WINNERS_ANNOUNCED')),
    resource    text        NOT NULL,
    contest_id  text        NOT NULL,
    event_time  timestamptz NOT NULL
);
CREATE INDEX outbox_order ON competitions.outbox (xid, position);
