-- Every record names the RPC that wrote it (empty only outside a call, which the writer
-- says explicitly). The default '' let a hot path's own INSERT leave the column out
-- unnoticed, and its records said nothing of the RPC; without a default such an INSERT
-- fails at once. Rows written before keep their ''.
ALTER TABLE audit_log ALTER COLUMN rpc DROP DEFAULT;
