-- The audit log: one row per projected event, accepted or rejected, hash-chained per stream.
-- hash = sha256(prev_hash || canonical record); see services/projector/audit.py.
CREATE TABLE audit_log (
    seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chain          text        NOT NULL,
    chain_seq      bigint      NOT NULL,
    topic          text        NOT NULL,
    partition      int         NOT NULL,
    log_offset     bigint      NOT NULL,
    event_id       uuid        NOT NULL,
    event_type     text        NOT NULL,
    aggregate      text        NOT NULL,
    actor_name     text        NOT NULL,
    actor_kind     text        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL,
    event          text        NOT NULL,
    verdict        text        NOT NULL CHECK (verdict IN ('accepted', 'rejected')),
    error_code     text,
    reason         text,
    outcome        text,
    prev_hash      bytea       NOT NULL,
    hash           bytea       NOT NULL,
    UNIQUE (chain, chain_seq),
    UNIQUE (event_id)
);
CREATE INDEX audit_log_aggregate ON audit_log (aggregate, seq);
CREATE INDEX audit_log_occurred ON audit_log (occurred_at);

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- The newest link of each chain, so appending needs no scan of the log.
CREATE TABLE audit_chain_heads (
    chain     text   PRIMARY KEY,
    chain_seq bigint NOT NULL,
    hash      bytea  NOT NULL
);

-- Where each projector consumer stands in each partition; written in the same transaction as
-- the audit rows and read-model changes of the batch, so a restart neither repeats nor skips.
CREATE TABLE projector_positions (
    consumer    text        NOT NULL,
    topic       text        NOT NULL,
    partition   int         NOT NULL,
    next_offset bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (consumer, topic, partition)
);

-- Undecodable records, mirrored from the dead-letter topic for inspection with SQL.
CREATE TABLE dead_letters (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic       text        NOT NULL,
    partition   int         NOT NULL,
    log_offset  bigint      NOT NULL,
    key         bytea,
    value       bytea       NOT NULL,
    reason      text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (topic, partition, log_offset)
);
