-- A mentee who leaves a group (CompletePair with `mentee`) keeps their member row with
-- `left_time` and how their part ended (the contract's FormerMentee.completion); the
-- completion columns are set together, and only on a mentee who left.
ALTER TABLE mentoring.pair_members
    ADD COLUMN completion_reason      text CHECK (completion_reason IN
        ('VALID_REASON', 'IMPROPER_EXECUTION', 'FORCE_MAJEURE')),
    ADD COLUMN completion_initiator   text CHECK (completion_initiator IN
        ('MENTOR', 'MENTEE', 'BOTH', 'CURATOR')),
    ADD COLUMN completion_explanation text,
    ADD COLUMN complete_date          date,
    ADD CONSTRAINT pair_members_completion_together CHECK (
        (completion_reason IS NULL) = (completion_initiator IS NULL)
        AND (completion_reason IS NULL) = (completion_explanation IS NULL)
        AND (completion_reason IS NULL) = (complete_date IS NULL)),
    ADD CONSTRAINT pair_members_completion_on_leaving CHECK (
        completion_reason IS NULL OR (side = 'MENTEE' AND left_time IS NOT NULL));

-- Keyset paging of the lists (oldest first, then by ID).
CREATE INDEX pairs_by_creation ON mentoring.pairs (institution_id, create_time, id);
