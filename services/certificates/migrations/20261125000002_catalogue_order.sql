-- Issue 13: the public catalogue is read in title order, page by page; this index gives that
-- order for certified programmes, so a search reads a page's worth of rows, not the
-- catalogue.
CREATE INDEX programmes_catalogue
    ON certificates.programmes (title, (provider_id || '/' || id))
    WHERE certified;

-- The catalogue's most used filter is the direction: within one, in title order.
CREATE INDEX programmes_catalogue_direction
    ON certificates.programmes (direction, title, (provider_id || '/' || id))
    WHERE certified;
