-- The transactional outbox of change events, one per service schema: a change writes its
-- event in its own transaction, and `WatchEvents` serves the events in (xid, position)
-- order, only below the oldest running transaction, so that a reader never passes a row
-- that is still to commit (shared/kit/src/outbox.rs explains why).
CREATE TABLE event_outbox (
    position    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid         xid8        NOT NULL DEFAULT pg_current_xact_id(),
    -- The service's name for what happened, for example CONTRACT_SIGNED.
    event_type  text        NOT NULL,
    -- The resource it happened to, and the resource it belongs to (a contest, a programme
    -- year), by which consumers may filter.
    resource    text        NOT NULL,
    parent      text        NOT NULL,
    event_time  timestamptz NOT NULL
);
CREATE INDEX event_outbox_order ON event_outbox (xid, position);
