-- Where `audit verify --incremental` last found each chain intact: the next run starts there.
CREATE TABLE audit_checkpoints (
    chain       text        PRIMARY KEY,
    chain_seq   bigint      NOT NULL,
    hash        bytea       NOT NULL,
    verified_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
