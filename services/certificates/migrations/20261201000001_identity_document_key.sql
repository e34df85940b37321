-- Issue 17: one child per identity document however it is spelt, and a child found by the
-- document for the cross-programme view (GetChildRecords).
--
-- Until now the register held the document as typed, unique as typed, so `I-ТО 100001` and
-- `i то №100001` were two children and could hold two certificates (rule 1: one certificate
-- per child, ever, keyed by the identity document). Each child now carries the document's
-- key, the rule of the suite's `edu_kit::names::identity_document_key` (a test holds the
-- two together), and the key is unique.
--
-- The key is a generated column over an IMMUTABLE function, so every writer gets it (the
-- register, the benchmark's bulk load, a hand-made fix) and a lookup compares it with the
-- same function over what the caller typed: the stored and the asked key come from one
-- implementation. Case is folded by `translate` over an explicit table, not by `upper`,
-- which follows the database's locale. `normalize` is IMMUTABLE; its tables are Unicode's
-- of the Postgres release, and Unicode never changes the normalisation of an assigned
-- character, so a later release can only differ for characters unassigned today, which no
-- document is written in.

-- The key of `document`: `№` dropped (before NFKC, which would spell it `No`); NFKC;
-- whitespace (Unicode's White_Space, as Rust's `char::is_whitespace`), dots, hyphens and
-- dashes U+2010–U+2014 dropped; the Latin and Cyrillic letters a–z, а–я, ѐ–џ in upper case,
-- with the Cyrillic capitals that look like Latin ones (А В Е К М Н О Р С Т Х У І) taken as
-- those. Other characters stay as typed.
CREATE FUNCTION certificates.identity_document_key(document text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN translate(
    translate(
        normalize(replace(document, '№', ''), NFKC),
        E'\t\n\u000B\f\r \u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000.-\u2010\u2011\u2012\u2013\u2014',
        ''),
    'abcdefghijklmnopqrstuvwxyzабвгдежзийклмнопрстуфхцчшщъыьэюяѐёђѓєѕіїјљњћќѝўџАВЕКМНОРСТХУІ',
    'ABCDEFGHIJKLMNOPQRSTUVWXYZAБBГДEЖЗИЙKЛMHOПPCTYФXЦЧШЩЪЫЬЭЮЯЀЁЂЃЄЅIЇЈЉЊЋЌЍЎЏABEKMHOPCTXYI');

-- Adding the column takes the table's exclusive lock until this migration commits, so no
-- child is registered between the check below and the unique index.
ALTER TABLE certificates.children
    ADD COLUMN identity_document_key text NOT NULL
        GENERATED ALWAYS AS (certificates.identity_document_key(identity_document)) STORED;

-- Children registered twice under two spellings must be merged by hand first (which of the
-- two certificates stays is the operator's decision). Checked here, because a failing
-- CREATE UNIQUE INDEX would print the duplicated key, a child's document, into the server's
-- log and the migration's error; this message names no value. To list them:
--   SELECT identity_document_key, array_agg(id) FROM certificates.children
--   GROUP BY 1 HAVING count(*) > 1;
DO $$
DECLARE
    shared_keys bigint;
BEGIN
    SELECT count(*) INTO shared_keys FROM (
        SELECT 1 FROM certificates.children
        GROUP BY identity_document_key HAVING count(*) > 1) AS twice;
    IF shared_keys > 0 THEN
        RAISE EXCEPTION 'certificates.children: % identity document(s) are registered for more than one child under different spellings',
            shared_keys
            USING HINT = 'merge those children by hand, then migrate again; the query in migration 20261201000001 lists them';
    END IF;
END
$$;

-- The key's uniqueness holds the raw document's too, whose constraint goes. A registration
-- that meets it still answers ALREADY_EXISTS from `INSERT … ON CONFLICT DO NOTHING`, which
-- covers every unique index, without a constraint error in the log.
ALTER TABLE certificates.children DROP CONSTRAINT children_identity_document_key;
CREATE UNIQUE INDEX children_one_per_document ON certificates.children (identity_document_key);
