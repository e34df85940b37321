-- What serialises listings of one child identity (normalised name and birth date) in a
-- campaign: a row per identity, locked by the listing's transaction until it ends. Row
-- locks live in the rows, so an import that lists 100 000 children in one transaction
-- holds 100 000 of them without running out of Postgres's shared lock table, which a
-- transaction-level advisory lock per child did (about 12 700 per transaction with the
-- default settings). Listings of other identities never wait for an import.
CREATE TABLE aid.child_identity_locks (
    campaign_id     text NOT NULL REFERENCES aid.campaigns (id),
    normalised_name text NOT NULL,
    birth_date      date NOT NULL,
    PRIMARY KEY (campaign_id, normalised_name, birth_date)
);
