-- A child's cross-programme view (ParticipantService.GetChildRecords) finds a participant by
-- full name and birth date in each institution the caller reaches: the birth date narrows
-- the rows here, the names are compared by the service (the suite's one rule for names), so
-- no name is indexed or sent to SQL.
CREATE INDEX participants_by_birth_date ON mentoring.participants (institution_id, birth_date);
