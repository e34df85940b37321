-- The probable duplicates of the data bank (rule 2): two records of a campaign that may be
-- one child, flagged when they share a normalised name and birth date (at least one of the
-- two without an IIN) or when a record without an IIN was given the IIN of another. The
-- regional staff merge them or keep them apart with a reason; every decision is kept, and
-- a decision may be reopened. Whether a pair is superseded (a record merged into a third
-- one, or removed) is derived from the records, never stored.

CREATE TABLE aid.probable_duplicates (
    id          text        PRIMARY KEY,
    campaign_id text        NOT NULL REFERENCES aid.campaigns (id),
    child_a     text        NOT NULL REFERENCES aid.children (id),
    child_b     text        NOT NULL REFERENCES aid.children (id),
    match       text        NOT NULL CHECK (match IN ('SAME_NAME_AND_BIRTH_DATE', 'SAME_IIN')),
    state       text        NOT NULL DEFAULT 'OPEN' CHECK (state IN ('OPEN', 'MERGED', 'KEPT_APART')),
    survivor    text        REFERENCES aid.children (id),
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    version     bigint      NOT NULL DEFAULT 1,
    CHECK (child_a <> child_b),
    CHECK ((state = 'MERGED') = (survivor IS NOT NULL)),
    CHECK (survivor IS NULL OR survivor = child_a OR survivor = child_b)
);
-- A pair is flagged once per match, whichever record came first: kept apart, it is not
-- flagged again for the same match.
CREATE UNIQUE INDEX probable_duplicates_one_per_match
    ON aid.probable_duplicates (least(child_a, child_b), greatest(child_a, child_b), match);
CREATE INDEX probable_duplicates_by_a ON aid.probable_duplicates (child_a);
CREATE INDEX probable_duplicates_by_b ON aid.probable_duplicates (child_b);
CREATE INDEX probable_duplicates_listing ON aid.probable_duplicates (campaign_id, create_time, id);

-- Every decision on a pair, oldest first: merge, keep apart, reopen. The reason is the
-- deciding staff's text (asked to hold no name or IIN); the actor is the token subject.
CREATE TABLE aid.duplicate_decisions (
    duplicate_id text        NOT NULL REFERENCES aid.probable_duplicates (id),
    seq          integer     NOT NULL CHECK (seq >= 1),
    action       text        NOT NULL CHECK (action IN ('MERGE', 'KEEP_APART', 'REOPEN')),
    reason       text        NOT NULL,
    survivor     text        REFERENCES aid.children (id),
    actor        text        NOT NULL,
    decide_time  timestamptz NOT NULL,
    PRIMARY KEY (duplicate_id, seq),
    CHECK ((action = 'MERGE') = (survivor IS NOT NULL))
);

-- Records merged into a survivor, for following merges and undoing them.
CREATE INDEX children_merged_into ON aid.children (merged_into) WHERE merged_into IS NOT NULL;
