-- Issue 11: the calendar and the money close their classes of defects in the database too.

-- Periods of one municipality do not overlap: the exclusion constraint is the one check two
-- concurrent creations cannot both pass. btree_gist (for `=` on text in a GiST index) is
-- installed by provisioning (kit `db::provision`, or the cluster's Database resource); this
-- statement only makes the requirement visible and is a no-op when it is installed.
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE certificates.periods
    ADD CONSTRAINT periods_do_not_overlap EXCLUDE USING gist (
        region_code WITH =,
        municipality_code WITH =,
        daterange(start_date, end_date, '[]') WITH &&
    );

-- Dates within a sane calendar; amounts within the bounds the API takes (domain/money.rs).
ALTER TABLE certificates.periods
    ADD CONSTRAINT periods_dates_in_range
        CHECK (start_date >= DATE '2000-01-01' AND end_date <= DATE '2100-12-31'),
    ADD CONSTRAINT periods_nominal_in_range CHECK (nominal <= 1000000000);
ALTER TABLE certificates.programmes
    ADD CONSTRAINT programmes_price_in_range CHECK (monthly_price <= 100000000);

-- A provider's month is one report that grows: one line per enrolment-month, unique, so an
-- enrolment reported twice (in one call or two) is counted once, and a line added after an
-- approval waits for the next approval instead of replacing what was there.
CREATE TABLE certificates.month_report_lines (
    provider_id   text        NOT NULL,
    month         date        NOT NULL,
    enrolment_id  text        NOT NULL REFERENCES certificates.enrolments (id),
    amount        bigint      NOT NULL CHECK (amount >= 0),
    report_time   timestamptz NOT NULL,
    approve_time  timestamptz,
    PRIMARY KEY (enrolment_id, month),
    FOREIGN KEY (provider_id, month) REFERENCES certificates.month_reports (provider_id, month)
);
CREATE INDEX month_report_lines_report ON certificates.month_report_lines (provider_id, month);

INSERT INTO certificates.month_report_lines
    (provider_id, month, enrolment_id, amount, report_time, approve_time)
SELECT DISTINCT ON (e.id, r.month)
       r.provider_id, r.month, e.id, e.monthly_price, r.report_time, r.approve_time
FROM certificates.month_reports r
CROSS JOIN LATERAL unnest(r.enrolment_ids) AS listed (id)
JOIN certificates.enrolments e ON e.id = listed.id
ORDER BY e.id, r.month
ON CONFLICT DO NOTHING;

ALTER TABLE certificates.month_reports DROP COLUMN enrolment_ids;

-- The waiting list is fair from now on: requests left open in a full programme join it in
-- the order they were made.
UPDATE certificates.enrolments e
SET state = 'WAITLISTED', version = version + 1
FROM certificates.programmes p
WHERE e.state = 'REQUESTED' AND p.provider_id = e.provider_id AND p.id = e.programme_id
  AND p.taken >= p.seats;
