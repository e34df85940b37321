-- The records of a campaign's data bank that stand for a child, each with the ACTIVE record
-- it counts with: an ACTIVE record stands for itself, and a MERGED one for the ACTIVE
-- record at the end of its chain of merges (a record merged into one that was itself merged
-- later). Records removed, or merged into a removed one, stand for no child. Reports, the
-- donor summary and the fair lists count children through it, so that a child counts once
-- however its records were merged.
CREATE FUNCTION aid.child_roots(campaign text)
RETURNS TABLE (child_id text, root_id text)
LANGUAGE sql STABLE
AS $$
    WITH RECURSIVE tree (child_id, root_id) AS (
        SELECT c.id, c.id FROM aid.children c WHERE c.campaign_id = $1 AND c.state = 'ACTIVE'
        UNION ALL
        SELECT c.id, t.root_id
        FROM aid.children c JOIN tree t ON c.merged_into = t.child_id
        WHERE c.state = 'MERGED'
    )
    SELECT tree.child_id, tree.root_id FROM tree
$$;

-- The same relation read from one record upwards: the ACTIVE record `child` counts with,
-- following its chain of merges; NULL when the chain ends in a removed record. For counting
-- the children a few allocations reach without walking the whole campaign.
CREATE FUNCTION aid.child_root(child text)
RETURNS text
LANGUAGE sql STABLE
AS $$
    WITH RECURSIVE up (id, next, state) AS (
        SELECT c.id, c.merged_into, c.state FROM aid.children c WHERE c.id = $1
        UNION ALL
        SELECT c.id, c.merged_into, c.state FROM aid.children c JOIN up ON c.id = up.next
    )
    SELECT up.id FROM up WHERE up.next IS NULL AND up.state = 'ACTIVE'
$$;
