-- A child's cross-programme view (ChildService.GetChildRecords) looks one child up in every
-- campaign at once: by IIN, and by normalised full name and birth date. The listing's
-- indexes lead with the campaign (`children_one_per_iin`, `children_by_name`, the latter
-- for ACTIVE records only), so they do not serve a lookup without one; these do. REMOVED
-- records hold neither value (removal erases them) and are left out; MERGED ones stay in,
-- since a match through them finds the record they were merged into.
CREATE INDEX children_by_iin ON aid.children (iin) WHERE iin IS NOT NULL;
CREATE INDEX children_by_identity ON aid.children (normalised_name, birth_date)
    WHERE state <> 'REMOVED';
