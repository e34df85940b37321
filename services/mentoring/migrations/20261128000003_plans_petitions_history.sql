-- The pair's work (rule 7): its individual plan and meeting log; replacement petitions
-- (rule 9) with the history of a pair's mentors; and the periods each pair was at work,
-- which the yearly report counts (rule 10, choice 15).

-- A replaced mentor keeps their member row with `left_time`, as a mentee who left a group
-- does: the petitions and the yearly report read the former mentors from it. One current
-- mentor per pair.
ALTER TABLE mentoring.pair_members DROP CONSTRAINT pair_members_check1;
DROP INDEX mentoring.pair_members_one_mentor;
CREATE UNIQUE INDEX pair_members_one_current_mentor
    ON mentoring.pair_members (institution_id, pair_id) WHERE side = 'MENTOR' AND left_time IS NULL;

-- The periods a pair or group was ACTIVE or SUSPENDED ("at work"): one opens when it
-- becomes ACTIVE from FORMING, and closes when it leaves ACTIVE and SUSPENDED (completed,
-- or back to FORMING on a granted replacement). Kept by the trigger below, in the
-- transaction of the change, so that no use case can forget it.
CREATE TABLE mentoring.pair_periods (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    institution_id text        NOT NULL,
    pair_id        text        NOT NULL,
    start_time     timestamptz NOT NULL,
    end_time       timestamptz,
    FOREIGN KEY (institution_id, pair_id) REFERENCES mentoring.pairs (institution_id, id),
    CHECK (end_time IS NULL OR end_time >= start_time)
);
CREATE INDEX pair_periods_by_pair ON mentoring.pair_periods (institution_id, pair_id, start_time);
CREATE UNIQUE INDEX pair_periods_one_open
    ON mentoring.pair_periods (institution_id, pair_id) WHERE end_time IS NULL;

CREATE FUNCTION mentoring.pair_periods_follow() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IN ('ACTIVE', 'SUSPENDED') AND OLD.state NOT IN ('ACTIVE', 'SUSPENDED') THEN
        INSERT INTO mentoring.pair_periods (institution_id, pair_id, start_time)
        VALUES (NEW.institution_id, NEW.id, NEW.activate_time);
    ELSIF OLD.state IN ('ACTIVE', 'SUSPENDED') AND NEW.state NOT IN ('ACTIVE', 'SUSPENDED') THEN
        UPDATE mentoring.pair_periods SET end_time = NEW.update_time
        WHERE institution_id = NEW.institution_id AND pair_id = NEW.id AND end_time IS NULL;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER pair_periods_follow AFTER UPDATE OF state ON mentoring.pairs
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION mentoring.pair_periods_follow();
-- Pairs already at work before this migration.
INSERT INTO mentoring.pair_periods (institution_id, pair_id, start_time, end_time)
SELECT institution_id, id, activate_time, complete_time FROM mentoring.pairs
WHERE activate_time IS NOT NULL;

-- Rule 7: the individual plan's activities (choice 13: a mentee's proposal is PROPOSED
-- until accepted).
CREATE TABLE mentoring.plan_activities (
    institution_id     text        NOT NULL,
    id                 text        NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    pair_id            text        NOT NULL,
    title              text        NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    description        text        NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    due_date           date        NOT NULL,
    state              text        NOT NULL CHECK (state IN ('PROPOSED', 'PLANNED', 'DONE', 'CANCELLED')),
    proposed_by_mentee boolean     NOT NULL DEFAULT false,
    result             text        NOT NULL DEFAULT '' CHECK (length(result) <= 2000),
    done_date          date,
    cancel_reason      text        NOT NULL DEFAULT '' CHECK (length(cancel_reason) <= 2000),
    create_time        timestamptz NOT NULL,
    update_time        timestamptz NOT NULL,
    version            bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (institution_id, id),
    UNIQUE (institution_id, pair_id, id),
    FOREIGN KEY (institution_id, pair_id) REFERENCES mentoring.pairs (institution_id, id),
    CHECK ((state = 'DONE') = (done_date IS NOT NULL)),
    CHECK (state <> 'DONE' OR result <> ''),
    CHECK (state <> 'CANCELLED' OR cancel_reason <> '')
);
CREATE INDEX plan_activities_by_pair
    ON mentoring.plan_activities (institution_id, pair_id, due_date, id);

-- Rule 7: the meeting log; rule 3: a SPEED pair logs one (the store checks it under the
-- pair's lock).
CREATE TABLE mentoring.meetings (
    institution_id   text        NOT NULL,
    id               text        NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    pair_id          text        NOT NULL,
    meet_date        date        NOT NULL,
    duration_minutes integer     CHECK (duration_minutes BETWEEN 1 AND 600),
    format           text        NOT NULL CHECK (format IN ('IN_PERSON', 'ONLINE')),
    topic            text        NOT NULL CHECK (length(topic) BETWEEN 1 AND 300),
    notes            text        NOT NULL DEFAULT '' CHECK (length(notes) <= 5000),
    plan_activity_id text,
    absent_mentees   text[]      NOT NULL DEFAULT '{}',
    create_time      timestamptz NOT NULL,
    PRIMARY KEY (institution_id, id),
    FOREIGN KEY (institution_id, pair_id) REFERENCES mentoring.pairs (institution_id, id),
    -- The activity it served is of the same pair.
    FOREIGN KEY (institution_id, pair_id, plan_activity_id)
        REFERENCES mentoring.plan_activities (institution_id, pair_id, id)
);
CREATE INDEX meetings_by_pair ON mentoring.meetings (institution_id, pair_id, meet_date DESC, id);

-- Rule 9: petitions to replace the mentor, decided by the director; every one is kept (the
-- history of the pair's mentors).
CREATE TABLE mentoring.replacement_petitions (
    institution_id  text        NOT NULL,
    id              text        NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    pair_id         text        NOT NULL,
    mentee_id       text        NOT NULL,
    filed_by        text        NOT NULL CHECK (filed_by IN ('SUBJECT', 'GUARDIAN', 'STAFF')),
    reason          text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    -- The mentor when it was filed.
    mentor_id       text        NOT NULL,
    state           text        NOT NULL DEFAULT 'PENDING'
        CHECK (state IN ('PENDING', 'GRANTED', 'REJECTED', 'LAPSED')),
    new_mentor_id   text,
    order_number    text,
    order_date      date,
    decision_reason text        NOT NULL DEFAULT '' CHECK (length(decision_reason) <= 2000),
    decide_time     timestamptz,
    create_time     timestamptz NOT NULL,
    update_time     timestamptz NOT NULL,
    version         bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (institution_id, id),
    FOREIGN KEY (institution_id, pair_id) REFERENCES mentoring.pairs (institution_id, id),
    FOREIGN KEY (institution_id, mentee_id) REFERENCES mentoring.participants (institution_id, id),
    FOREIGN KEY (institution_id, mentor_id) REFERENCES mentoring.participants (institution_id, id),
    FOREIGN KEY (institution_id, new_mentor_id) REFERENCES mentoring.participants (institution_id, id),
    CHECK ((state = 'PENDING') = (decide_time IS NULL)),
    CHECK ((state = 'GRANTED') = (new_mentor_id IS NOT NULL)
           AND (state = 'GRANTED') = (order_number IS NOT NULL)
           AND (order_number IS NULL) = (order_date IS NULL)),
    CHECK (state <> 'REJECTED' OR decision_reason <> '')
);
-- One PENDING petition per mentee and pair (ALREADY_EXISTS naming it).
CREATE UNIQUE INDEX replacement_petitions_one_pending
    ON mentoring.replacement_petitions (institution_id, pair_id, mentee_id) WHERE state = 'PENDING';
CREATE INDEX replacement_petitions_by_pair
    ON mentoring.replacement_petitions (institution_id, pair_id, create_time, id);
