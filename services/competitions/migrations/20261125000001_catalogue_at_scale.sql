-- Issue 13: the catalogue searched at 100 000 entries.
--
-- A search ranks every entry its words match. Ranking by the whole text reads each
-- matching entry's full `search` vector, which for a long description is compressed out of
-- line; ranking by the title and summary alone (`brief`, small and inline) costs a fraction,
-- and orders matches in what a reader sees first. Entries matched in the description only
-- rank below, by recency.
ALTER TABLE competitions.practices
    ADD COLUMN brief tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('russian', title), 'A')
        || setweight(to_tsvector('russian', summary), 'B')
    ) STORED;

-- The catalogue changes at announcements only: every search should find the index whole,
-- never a pending list of recent additions to scan one by one.
ALTER INDEX competitions.practices_search SET (fastupdate = off);
