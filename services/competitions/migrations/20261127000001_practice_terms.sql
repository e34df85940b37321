-- Issue 13: a one-word search of the catalogue ranked from an index.
--
-- Ranking a search with `ts_rank` reads every entry its words match, about 230 heap rows for
-- a word of the benchmark, before the first page can be cut. A search of one word (what
-- people type most) needs no such work if each entry's rank for each of its words is kept
-- beforehand: `practice_terms` holds one row per (word, entry) with the entry's
-- `ts_rank(brief, word)`, exactly what the full-text path computes for that one-word query,
-- and its index is in the order of the results, so a page is a short index range. The
-- filters a search may add ride along in the index (INCLUDE), so filtered pages are read
-- from it too. Searches of several words, phrases or exclusions keep the full-text path.
--
-- The rows are written by a trigger on the catalogue, in the transaction that publishes or
-- changes an entry, so they never disagree with it.
CREATE TABLE competitions.practice_terms (
    lexeme        text        NOT NULL,
    practice_id   text        NOT NULL REFERENCES competitions.practices (id) ON DELETE CASCADE,
    relevance     real        NOT NULL,
    publish_time  timestamptz NOT NULL,
    nomination_id text        NOT NULL,
    region_code   text        NOT NULL,
    contest_id    text        NOT NULL,
    year          integer     NOT NULL,
    PRIMARY KEY (lexeme, practice_id)
);
CREATE INDEX practice_terms_ranked
    ON competitions.practice_terms (lexeme, relevance DESC, publish_time DESC, practice_id)
    INCLUDE (nomination_id, region_code, contest_id, year);
CREATE INDEX practice_terms_practice ON competitions.practice_terms (practice_id);

-- A lexeme as a one-word tsquery: quoted, with quotes and backslashes escaped as the
-- tsquery syntax asks.
CREATE FUNCTION competitions.lexeme_query(lexeme text) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT
AS $$
    SELECT ('''' || replace(replace($1, '\', '\\'), '''', '''''') || '''')::tsquery
$$;

CREATE FUNCTION competitions.practice_terms_refresh() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    DELETE FROM competitions.practice_terms WHERE practice_id = NEW.id;
    INSERT INTO competitions.practice_terms
        (lexeme, practice_id, relevance, publish_time, nomination_id, region_code, contest_id,
         year)
    SELECT t.lexeme, NEW.id,
           ts_rank(NEW.brief, competitions.lexeme_query(t.lexeme))::real,
           NEW.publish_time, NEW.nomination_id, NEW.region_code, NEW.contest_id, NEW.year
    FROM unnest(NEW.search) AS t;
    RETURN NULL;
END
$$;

CREATE TRIGGER practice_terms_refresh
    AFTER INSERT OR UPDATE OF title, summary, description, publish_time, nomination_id,
        region_code, contest_id, year ON competitions.practices
    FOR EACH ROW EXECUTE FUNCTION competitions.practice_terms_refresh();

INSERT INTO competitions.practice_terms
    (lexeme, practice_id, relevance, publish_time, nomination_id, region_code, contest_id, year)
SELECT t.lexeme, p.id, ts_rank(p.brief, competitions.lexeme_query(t.lexeme))::real,
       p.publish_time, p.nomination_id, p.region_code, p.contest_id, p.year
FROM competitions.practices p, unnest(p.search) AS t;
