-- The region an event happened in (ISO 3166-2), for services whose events carry one, so a
-- consumer can route an event without reading the resource back. NULL where a service's
-- events have no region.
ALTER TABLE event_outbox ADD COLUMN region_code text;
