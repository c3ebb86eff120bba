-- Tracking read models: experiments, runs, params, tags, metrics, inputs and outputs.
-- Runs and metric keys get integer surrogate keys so the metric table stays narrow; the metric
-- history has ONE index, and duplicates are caught per batch (metric_batches), not per row.

CREATE TABLE experiments (
    experiment_id    bigint      PRIMARY KEY,
    name             text        NOT NULL UNIQUE,
    artifact_location text       NOT NULL,
    lifecycle_stage  text        NOT NULL DEFAULT 'active',
    creation_time    bigint      NOT NULL,
    last_update_time bigint      NOT NULL
);
CREATE INDEX experiments_creation ON experiments (creation_time DESC, experiment_id);

CREATE TABLE experiment_tags (
    experiment_id bigint NOT NULL REFERENCES experiments ON DELETE CASCADE,
    key           text   NOT NULL,
    value         text   NOT NULL,
    PRIMARY KEY (experiment_id, key)
);

CREATE TABLE runs (
    run_key         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    run_id          text   PRIMARY KEY,
    experiment_id   bigint NOT NULL REFERENCES experiments,
    name            text   NOT NULL,
    user_id         text   NOT NULL,
    status          text   NOT NULL,
    start_time      bigint,
    end_time        bigint,
    artifact_uri    text   NOT NULL,
    lifecycle_stage text   NOT NULL DEFAULT 'active',
    deleted_time    bigint
);
-- The default listing: runs of an experiment, newest first, run_id as tie-breaker.
CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time DESC, run_id);

CREATE TABLE run_params (
    run_key bigint NOT NULL,
    key     text   NOT NULL,
    value   text   NOT NULL,
    PRIMARY KEY (run_key, key)
);
CREATE INDEX run_params_by_key ON run_params (key, value);

CREATE TABLE run_tags (
    run_key bigint NOT NULL,
    key     text   NOT NULL,
    value   text   NOT NULL,
    PRIMARY KEY (run_key, key)
);
CREATE INDEX run_tags_by_key ON run_tags (key, value);

CREATE TABLE metric_keys (
    key_id int  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key    text NOT NULL UNIQUE
);

-- Every point, as logged. value is float8 and holds NaN and +/-Infinity natively.
CREATE TABLE metrics (
    run_key        bigint           NOT NULL,
    key_id         int              NOT NULL,
    step           bigint           NOT NULL,
    timestamp      bigint           NOT NULL,
    value          double precision NOT NULL,
    model_id       text,
    dataset_name   text,
    dataset_digest text
);
CREATE INDEX metrics_history ON metrics (run_key, key_id, step);

-- One row per applied metrics batch: a retried batch (same run, same points) is recognised here.
CREATE TABLE metric_batches (
    run_key bigint NOT NULL,
    digest  bytea  NOT NULL,
    PRIMARY KEY (run_key, digest)
);

-- The latest value per (run, key): the max of (step, timestamp, value), NaN ranking as 0.
CREATE TABLE latest_metrics (
    run_key   bigint           NOT NULL,
    key_id    int              NOT NULL,
    step      bigint           NOT NULL,
    timestamp bigint           NOT NULL,
    value     double precision NOT NULL,
    model_id       text,
    dataset_name   text,
    dataset_digest text,
    PRIMARY KEY (run_key, key_id)
);
CREATE INDEX latest_metrics_by_key ON latest_metrics (key_id, value);

CREATE TABLE datasets (
    dataset_key   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    experiment_id bigint NOT NULL,
    name          text   NOT NULL,
    digest        text   NOT NULL,
    source_type   text   NOT NULL,
    source        text   NOT NULL,
    schema        text,
    profile       text,
    UNIQUE (experiment_id, name, digest)
);

CREATE TABLE run_dataset_inputs (
    run_key     bigint NOT NULL,
    dataset_key bigint NOT NULL,
    tags        jsonb  NOT NULL DEFAULT '[]',
    PRIMARY KEY (run_key, dataset_key)
);

CREATE TABLE run_model_inputs (
    run_key  bigint NOT NULL,
    model_id text   NOT NULL,
    PRIMARY KEY (run_key, model_id)
);

CREATE TABLE run_model_outputs (
    run_key  bigint NOT NULL,
    model_id text   NOT NULL,
    step     bigint NOT NULL,
    PRIMARY KEY (run_key, model_id)
);
