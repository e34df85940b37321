-- Contests with their nominations and rubric, teams with their members, and applications
-- (rules 1-4 of shared/domain/competitions.md). Every table lives in the service's own
-- schema; names are schema-qualified so that queries say where they read.

CREATE TABLE competitions.contests (
    id                          text        PRIMARY KEY,
    title                       text        NOT NULL,
    description                 text        NOT NULL DEFAULT '',
    organiser                   text        NOT NULL DEFAULT '',
    state                       text        NOT NULL
        CHECK (state IN ('DRAFT', 'OPEN', 'CLOSED', 'ANNOUNCED', 'CANCELLED')),
    time_zone                   text        NOT NULL,
    -- The last day applications are accepted, read in time_zone (inclusive).
    application_deadline        date        NOT NULL,
    results_due                 date        NOT NULL CHECK (results_due >= application_deadline),
    eligible_levels             text[]      NOT NULL,
    max_applications_per_team   smallint    NOT NULL CHECK (max_applications_per_team BETWEEN 1 AND 10),
    experts_per_application     smallint    NOT NULL CHECK (experts_per_application BETWEEN 1 AND 10),
    create_time                 timestamptz NOT NULL,
    update_time                 timestamptz NOT NULL,
    open_time                   timestamptz,
    close_time                  timestamptz,
    announce_time               timestamptz,
    cancel_time                 timestamptz,
    cancel_reason               text,
    version                     bigint      NOT NULL DEFAULT 1
);
CREATE INDEX contests_listing ON competitions.contests (create_time DESC, id DESC);

-- Nominations in presentation order; fixed once the contest opens.
CREATE TABLE competitions.nominations (
    contest_id   text     NOT NULL REFERENCES competitions.contests (id) ON DELETE CASCADE,
    id           text     NOT NULL,
    position     smallint NOT NULL,
    title        text     NOT NULL,
    description  text     NOT NULL DEFAULT '',
    PRIMARY KEY (contest_id, id),
    UNIQUE (contest_id, position)
);

-- The rubric every review scores; fixed once the contest opens.
CREATE TABLE competitions.criteria (
    contest_id   text     NOT NULL REFERENCES competitions.contests (id) ON DELETE CASCADE,
    id           text     NOT NULL,
    position     smallint NOT NULL,
    title        text     NOT NULL,
    description  text     NOT NULL DEFAULT '',
    min_score    smallint NOT NULL CHECK (min_score >= 0),
    max_score    smallint NOT NULL CHECK (max_score > min_score AND max_score <= 100),
    weight       smallint NOT NULL CHECK (weight BETWEEN 1 AND 100),
    PRIMARY KEY (contest_id, id),
    UNIQUE (contest_id, position)
);

CREATE TABLE competitions.teams (
    id                 text        PRIMARY KEY,
    display_name       text        NOT NULL,
    level              text        NOT NULL CHECK (level IN ('REGIONAL', 'MUNICIPAL')),
    region_code        text        NOT NULL,
    municipality_code  text,
    municipality_name  text,
    create_time        timestamptz NOT NULL,
    update_time        timestamptz NOT NULL,
    version            bigint      NOT NULL DEFAULT 1,
    CHECK ((level = 'MUNICIPAL') = (municipality_code IS NOT NULL AND municipality_name IS NOT NULL))
);
CREATE INDEX teams_listing ON competitions.teams (create_time, id);
CREATE INDEX teams_region ON competitions.teams (region_code, create_time, id);

-- Members are personal data (names, positions): read only by their team and the organiser.
CREATE TABLE competitions.team_members (
    team_id       text        NOT NULL REFERENCES competitions.teams (id) ON DELETE CASCADE,
    id            text        NOT NULL,
    subject       text        NOT NULL,
    display_name  text        NOT NULL,
    position      text        NOT NULL DEFAULT '',
    role          text        NOT NULL CHECK (role IN ('LEAD', 'MEMBER')),
    create_time   timestamptz NOT NULL,
    PRIMARY KEY (team_id, id),
    UNIQUE (team_id, subject)
);
-- "Which teams does this caller act for" is asked on every team member's call.
CREATE INDEX team_members_subject ON competitions.team_members (subject, team_id);

CREATE TABLE competitions.applications (
    contest_id     text        NOT NULL REFERENCES competitions.contests (id),
    id             text        NOT NULL,
    team_id        text        NOT NULL REFERENCES competitions.teams (id),
    nomination_id  text        NOT NULL,
    title          text        NOT NULL,
    summary        text        NOT NULL DEFAULT '',
    description    text        NOT NULL DEFAULT '',
    state          text        NOT NULL CHECK (state IN ('DRAFT', 'SUBMITTED', 'WITHDRAWN')),
    -- Copied from the team when drafted: the region an application speaks for never changes.
    region_code    text        NOT NULL,
    create_time    timestamptz NOT NULL,
    update_time    timestamptz NOT NULL,
    submit_time    timestamptz,
    withdraw_time  timestamptz,
    version        bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (contest_id, id),
    FOREIGN KEY (contest_id, nomination_id) REFERENCES competitions.nominations (contest_id, id),
    CHECK ((state = 'SUBMITTED') <= (submit_time IS NOT NULL)),
    CHECK ((state = 'WITHDRAWN') = (withdraw_time IS NOT NULL))
);
CREATE INDEX applications_listing ON competitions.applications (contest_id, create_time, id);
CREATE INDEX applications_team ON competitions.applications (team_id, contest_id, nomination_id)
    WHERE state <> 'WITHDRAWN';
