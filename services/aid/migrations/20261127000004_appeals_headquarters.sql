-- Rule 5: citizens' appeals from hotlines, trust phones and public reception offices, and
-- the counters that number them; rule 1: the listing of every region's activities. The
-- headquarters and their activities live in the base migration.

-- The last number given to an appeal of a region in a campaign. CreateAppeal raises it by
-- one in its own transaction (an upsert, which locks the row until the transaction ends),
-- so concurrent appeals of a region are numbered one after another, and a transaction that
-- rolls back gives its number back: the numbers have no gaps.
CREATE TABLE aid.appeal_counters (
    campaign_id text   NOT NULL REFERENCES aid.campaigns (id),
    region_code text   NOT NULL,
    last_number bigint NOT NULL CHECK (last_number >= 1),
    PRIMARY KEY (campaign_id, region_code)
);

-- Rule 5: an appeal, numbered at once, OPEN → IN_PROGRESS → ANSWERED or REDIRECTED. Its due
-- time and overdue flag are not stored: they follow from `create_time` and the campaign's
-- current response target. The applicant's name and contact are personal data.
CREATE TABLE aid.appeals (
    id                  text        PRIMARY KEY,
    campaign_id         text        NOT NULL REFERENCES aid.campaigns (id),
    region_code         text        NOT NULL,
    number              text        NOT NULL,
    channel             text        NOT NULL
        CHECK (channel IN ('HOTLINE', 'TRUST_PHONE', 'PUBLIC_RECEPTION', 'WRITTEN')),
    category            text        NOT NULL
        CHECK (category IN ('REQUEST_FOR_HELP', 'CHILD_OUT_OF_SCHOOL', 'PRICES', 'COMPLAINT',
                            'OFFER_OF_HELP', 'QUESTION', 'OTHER')),
    responsible_person  text        NOT NULL,
    applicant_name      text        NOT NULL DEFAULT '',
    applicant_contact   text        NOT NULL DEFAULT '',
    summary             text        NOT NULL,
    state               text        NOT NULL DEFAULT 'OPEN'
        CHECK (state IN ('OPEN', 'IN_PROGRESS', 'ANSWERED', 'REDIRECTED')),
    first_response      text        NOT NULL DEFAULT '',
    first_response_time timestamptz,
    answer              text        NOT NULL DEFAULT '',
    redirected_to       text        NOT NULL DEFAULT '',
    redirect_reason     text        NOT NULL DEFAULT '',
    close_time          timestamptz,
    create_time         timestamptz NOT NULL,
    update_time         timestamptz NOT NULL,
    version             bigint      NOT NULL DEFAULT 1,
    UNIQUE (campaign_id, number),
    CHECK ((state = 'OPEN') = (first_response_time IS NULL)),
    CHECK ((state IN ('ANSWERED', 'REDIRECTED')) = (close_time IS NOT NULL)),
    CHECK ((state = 'ANSWERED') = (answer <> '')),
    CHECK ((state = 'REDIRECTED') = (redirected_to <> '' AND redirect_reason <> ''))
);
CREATE INDEX appeals_listing ON aid.appeals (campaign_id, create_time, id);
CREATE INDEX appeals_by_region ON aid.appeals (campaign_id, region_code, create_time, id);
-- The work list: appeals still waiting for their first response.
CREATE INDEX appeals_open ON aid.appeals (campaign_id, create_time, id) WHERE state = 'OPEN';

-- Every region's activities of a campaign, by start date then name
-- (`campaigns/{c}/headquarters/-`).
CREATE INDEX activities_by_date
    ON aid.activities (campaign_id, start_date, headquarters_id, id);
