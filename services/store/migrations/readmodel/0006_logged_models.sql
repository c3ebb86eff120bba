-- MLflow 3 logged models: the model, its params and tags. Its metrics are the metric points that
-- carry its model_id (the metrics table), found through a partial index.
CREATE TABLE logged_models (
    model_id                  text   PRIMARY KEY,
    experiment_id             bigint NOT NULL,
    name                      text   NOT NULL,
    artifact_location         text   NOT NULL,
    creation_timestamp_ms     bigint NOT NULL,
    last_updated_timestamp_ms bigint NOT NULL,
    model_type                text,
    source_run_id             text,
    status                    text   NOT NULL DEFAULT 'LOGGED_MODEL_PENDING',
    status_message            text,
    lifecycle_stage           text   NOT NULL DEFAULT 'active'
);
CREATE INDEX logged_models_by_experiment
    ON logged_models (experiment_id, creation_timestamp_ms DESC, model_id);
CREATE INDEX logged_models_by_name ON logged_models (experiment_id, name);

CREATE TABLE logged_model_params (
    model_id text NOT NULL REFERENCES logged_models ON DELETE CASCADE,
    key      text NOT NULL,
    value    text NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE logged_model_tags (
    model_id text NOT NULL REFERENCES logged_models ON DELETE CASCADE,
    key      text NOT NULL,
    value    text NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE INDEX metrics_by_model ON metrics (model_id) WHERE model_id IS NOT NULL;
