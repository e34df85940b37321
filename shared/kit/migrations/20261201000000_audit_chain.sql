-- The tamper-evident audit trail (shared/kit/src/audit/chain.rs explains it): records of
-- reads of personal data beside those of changes, and the hash chain a background sealer
-- links them into after they commit.
--
-- Records are still inserted without any of the chain's columns, so that writing one takes
-- no lock and waits for nothing; the sealer fills `chain_seq`, `prev_hash` and `hash`
-- within a second or so. Every constraint is added NOT VALID: the rows already there hold
-- the defaults, and an audit log of millions of rows is not scanned under a lock for them.

ALTER TABLE audit_log
    -- CHANGE (a change, written with it) or READ (a read of personal data).
    ADD COLUMN kind      text   NOT NULL DEFAULT 'CHANGE',
    -- The purpose the caller stated for a read (`x-edu-purpose`); empty when none.
    ADD COLUMN purpose   text   NOT NULL DEFAULT '',
    -- The RPC that wrote the record, `/package.Service/Method`; empty for older changes.
    ADD COLUMN rpc       text   NOT NULL DEFAULT '',
    -- The record's place in its schema's chain, from 1; NULL until sealed.
    ADD COLUMN chain_seq bigint,
    -- The hash of the record sealed before it (32 zero bytes for the first).
    ADD COLUMN prev_hash bytea,
    -- SHA-256 of prev_hash and the record's canonical encoding.
    ADD COLUMN hash      bytea;

ALTER TABLE audit_log ADD CONSTRAINT audit_log_kind
    CHECK (kind IN ('CHANGE', 'READ')) NOT VALID;
-- Sealed all at once or not at all.
ALTER TABLE audit_log ADD CONSTRAINT audit_log_sealed
    CHECK ((chain_seq IS NULL) = (prev_hash IS NULL) AND (chain_seq IS NULL) = (hash IS NULL)) NOT VALID;

-- One record per place in the chain. Partial, so that an insert (always unsealed) adds no
-- entry to it: the hot paths pay for the chain only through the small index below.
CREATE UNIQUE INDEX audit_log_chain ON audit_log (chain_seq) WHERE chain_seq IS NOT NULL;
-- What the sealer is still to seal, in ID order.
CREATE INDEX audit_log_unsealed ON audit_log (id) WHERE chain_seq IS NULL;
-- An inspector's listing by actor (by resource and by time have theirs already).
CREATE INDEX audit_log_actor ON audit_log (actor, id);
