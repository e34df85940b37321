-- Issue 14: the outbox moved into the kit (`event_outbox`, created in this schema by the
-- kit's migrations, which run first), so that every service records and serves its events
-- the same way.
--
-- The events written so far move with their transaction IDs and positions, so a consumer's
-- cursor stays valid. During a rolling update replicas of the previous version still write
-- to `outbox`: a trigger forwards each such row into `event_outbox` in the writing
-- transaction (same xid, so the order holds) and keeps nothing in the old table. A later
-- version drops `outbox` once no replica of this one's predecessor can run.
INSERT INTO competitions.event_outbox (position, xid, event_type, resource, parent, event_time)
OVERRIDING SYSTEM VALUE
SELECT position, xid, event_type, resource, 'contests/' || contest_id, event_time
FROM competitions.outbox;

SELECT setval(
    pg_get_serial_sequence('competitions.event_outbox', 'position'),
    COALESCE((SELECT max(position) FROM competitions.event_outbox), 0) + 1,
    false);

TRUNCATE competitions.outbox;

CREATE FUNCTION competitions.outbox_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO competitions.event_outbox (event_type, resource, parent, event_time)
    VALUES (NEW.event_type, NEW.resource, 'contests/' || NEW.contest_id, NEW.event_time);
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_forward BEFORE INSERT ON competitions.outbox
    FOR EACH ROW EXECUTE FUNCTION competitions.outbox_forward();
