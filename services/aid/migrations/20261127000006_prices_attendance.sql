-- Rule 6: price observations of school uniform and supplies, facts never changed; the
-- weekly trend is computed from them on each read. Rule 7: attendance checks from the
-- school start date, with the follow-up of a child found not attending.

CREATE TABLE aid.price_observations (
    id                      text        PRIMARY KEY,
    campaign_id             text        NOT NULL REFERENCES aid.campaigns (id),
    item                    text        NOT NULL
        CHECK (item IN ('UNIFORM_BOYS', 'UNIFORM_GIRLS', 'SHIRT_OR_BLOUSE', 'SHOES',
                        'BACKPACK', 'STATIONERY_SET')),
    region_code             text        NOT NULL,
    place_kind              text        NOT NULL
        CHECK (place_kind IN ('SHOP', 'MARKET', 'SCHOOL_FAIR', 'REMOTE_SETTLEMENT_FAIR')),
    place_name              text        NOT NULL CHECK (place_name <> ''),
    price_tiyn              bigint      NOT NULL CHECK (price_tiyn BETWEEN 1 AND 100000000),
    observe_date            date        NOT NULL,
    note                    text        NOT NULL DEFAULT '',
    activity_headquarters   text,
    activity_id             text,
    create_time             timestamptz NOT NULL,
    CHECK ((activity_headquarters IS NULL) = (activity_id IS NULL))
);
CREATE INDEX price_observations_listing
    ON aid.price_observations (campaign_id, observe_date, id);
CREATE INDEX price_observations_trend
    ON aid.price_observations (campaign_id, item, region_code, observe_date);

-- A check of a child's attendance. A check that found the child not attending is AWAITING
-- its follow-up until someone records it (DONE); the school and region are the child's.
CREATE TABLE aid.attendance_checks (
    id               text        PRIMARY KEY,
    campaign_id      text        NOT NULL REFERENCES aid.campaigns (id),
    child_id         text        NOT NULL REFERENCES aid.children (id),
    check_date       date        NOT NULL,
    outcome          text        NOT NULL CHECK (outcome IN ('ATTENDS', 'DOES_NOT_ATTEND')),
    absence_reason   text
        CHECK (absence_reason IN ('LACKS_CLOTHES_OR_SUPPLIES', 'ILLNESS', 'FAMILY_MOVED',
                                  'FAMILY_CIRCUMSTANCES', 'CHILD_WORKING',
                                  'WHEREABOUTS_UNKNOWN', 'OTHER')),
    absence_note     text        NOT NULL DEFAULT '',
    follow_up_state  text        NOT NULL
        CHECK (follow_up_state IN ('NOT_NEEDED', 'AWAITING', 'DONE')),
    follow_up_action text,
    follow_up_result text,
    follow_up_date   date,
    follow_up_actor  text,
    follow_up_time   timestamptz,
    create_time      timestamptz NOT NULL,
    update_time      timestamptz NOT NULL,
    version          bigint      NOT NULL DEFAULT 1,
    CHECK ((outcome = 'DOES_NOT_ATTEND') = (absence_reason IS NOT NULL)),
    CHECK ((outcome = 'ATTENDS') = (follow_up_state = 'NOT_NEEDED')),
    CHECK ((follow_up_state = 'DONE') = (follow_up_action IS NOT NULL)),
    CHECK ((follow_up_state = 'DONE') = (follow_up_date IS NOT NULL))
);
CREATE INDEX attendance_checks_listing
    ON aid.attendance_checks (campaign_id, check_date, child_id, id);
CREATE INDEX attendance_checks_of_child
    ON aid.attendance_checks (child_id, check_date DESC, create_time DESC, id DESC);
CREATE INDEX attendance_checks_awaiting
    ON aid.attendance_checks (child_id) WHERE follow_up_state = 'AWAITING';
