-- Issue 17: the gateway's region summary (ResultsService.GetRegionSummary) counts one
-- region's submitted applications per contest, and their winners once announced.
--
-- Only submitted applications count, so only they are indexed: a region's entries are one
-- short range, read in contest order without touching the table (the key carries what
-- the query joins on: the contest, and the nomination and application that key a result).
CREATE INDEX applications_region ON competitions.applications
    (region_code, contest_id, nomination_id, id)
    WHERE state = 'SUBMITTED';
