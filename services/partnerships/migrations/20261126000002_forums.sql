-- Rule 9: regional forums on innovation (edu.partnerships.v1.ForumService). A regional
-- office records its agreement with a school of its region to host a forum in a year
-- (AGREED), the school registers its wish to host (REGISTERED), the two sides agree the
-- topics, and the office sets the programme and the participant schools. A forum lives
-- under its region, `regions/{region}/forums/{forum}`, so its ID is unique within the
-- region. Names are schema-qualified, as in the first migration.
CREATE TABLE partnerships.forums (
    region_code          text        NOT NULL,
    id                   text        NOT NULL,
    year_id              text        NOT NULL REFERENCES partnerships.years (id),
    school_id            text        NOT NULL REFERENCES partnerships.schools (id),
    -- How many people the host can receive, and its experience, as agreed with the office.
    capacity             integer     NOT NULL CHECK (capacity BETWEEN 1 AND 10000),
    experience           text        NOT NULL,
    state                text        NOT NULL CHECK (state IN ('AGREED', 'REGISTERED')),
    -- [{"title": …, "description": …}, …] in the order they are presented; empty until a
    -- side sets them, and then 1 to 10.
    topics               jsonb       NOT NULL DEFAULT '[]',
    -- The side that last set the topics; each setting counts as that side's agreement and
    -- clears the other's. The topics are final once both sides agreed them.
    topics_set_by        text        CHECK (topics_set_by IN ('REGIONAL_OFFICE', 'HOST_SCHOOL')),
    office_agreed_topics boolean     NOT NULL DEFAULT false,
    school_agreed_topics boolean     NOT NULL DEFAULT false,
    programme            text        NOT NULL DEFAULT '',
    forum_date           date,
    -- Participant schools in the order they were added; the host is not listed.
    participants         text[]      NOT NULL DEFAULT '{}',
    create_time          timestamptz NOT NULL,
    register_time        timestamptz,
    update_time          timestamptz NOT NULL,
    version              bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (region_code, id),
    -- One forum per school and year.
    UNIQUE (year_id, school_id),
    CHECK ((state = 'REGISTERED') = (register_time IS NOT NULL)),
    CHECK (jsonb_typeof(topics) = 'array' AND jsonb_array_length(topics) <= 10),
    CHECK ((topics_set_by IS NULL) = (jsonb_array_length(topics) = 0)),
    -- Topics, their agreement, the programme and participants follow the registration;
    -- the programme follows final topics.
    CHECK (state = 'REGISTERED' OR (topics_set_by IS NULL AND cardinality(participants) = 0)),
    CHECK (topics_set_by IS NOT NULL OR NOT (office_agreed_topics OR school_agreed_topics)),
    CHECK ((programme = '' AND forum_date IS NULL)
           OR (office_agreed_topics AND school_agreed_topics)),
    CHECK (NOT (school_id = ANY (participants)))
);
-- A region's forums, oldest first, and every region's (`regions/-`).
CREATE INDEX forums_listing ON partnerships.forums (region_code, create_time, id);
CREATE INDEX forums_all_listing ON partnerships.forums (create_time, region_code, id);
