-- Model registry read models: registered models, their versions, tags and aliases, written by
-- services/projector/handlers/registry.py from the decisions of services/registry.
--
-- Keyed by the model's name as MLflow's tables are: a rename updates one row and the foreign keys
-- carry it to the versions, tags and aliases (ON UPDATE CASCADE); deleting a model removes all of
-- it (ON DELETE CASCADE). A deleted version stays, under the Deleted_Internal stage, so its number
-- is never handed out again while the model lives; the partial indexes leave those rows out.
-- Searches order names bytewise (COLLATE "C", the same on every server), hence the expression
-- indexes beside the primary keys.

CREATE TABLE registered_models (
    name                   text   PRIMARY KEY,
    creation_timestamp     bigint NOT NULL,
    last_updated_timestamp bigint NOT NULL,
    user_id                text,
    description            text,
    last_version           int    NOT NULL DEFAULT 0
);
-- SearchRegisteredModels: by name (the default), and by last update with name as tie-breaker.
CREATE INDEX registered_models_by_name ON registered_models (name COLLATE "C");
CREATE INDEX registered_models_by_update
    ON registered_models (last_updated_timestamp, name COLLATE "C");

CREATE TABLE registered_model_tags (
    name  text NOT NULL REFERENCES registered_models ON UPDATE CASCADE ON DELETE CASCADE,
    key   text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (name, key)
);
-- Tag filters (tags.team = 'x') and the prompt exclusion (mlflow.prompt.is_prompt = 'true').
CREATE INDEX registered_model_tags_by_key ON registered_model_tags (key, value);

CREATE TABLE model_versions (
    name                   text   NOT NULL
        REFERENCES registered_models ON UPDATE CASCADE ON DELETE CASCADE,
    version                int    NOT NULL,
    creation_timestamp     bigint NOT NULL,
    last_updated_timestamp bigint NOT NULL,
    user_id                text,
    description            text,
    current_stage          text   NOT NULL DEFAULT 'None',
    source                 text   NOT NULL,
    run_id                 text,
    run_link               text,
    model_id               text,
    status                 text   NOT NULL DEFAULT 'READY',
    PRIMARY KEY (name, version)
);
-- SearchModelVersions' default order: last update newest first, name, number descending.
CREATE INDEX model_versions_by_update
    ON model_versions (last_updated_timestamp DESC, name COLLATE "C", version DESC)
    WHERE current_stage <> 'Deleted_Internal';
-- Versions of one model (name = 'x', the client's most common filter) in the same order.
CREATE INDEX model_versions_by_name
    ON model_versions (name COLLATE "C", version DESC)
    WHERE current_stage <> 'Deleted_Internal';
-- latest_versions: the highest live number per (model, stage).
CREATE INDEX model_versions_by_stage
    ON model_versions (name, current_stage, version DESC)
    WHERE current_stage <> 'Deleted_Internal';
-- "Which versions came from this run?" (run_id = '...', run_id IN (...)).
CREATE INDEX model_versions_by_run ON model_versions (run_id)
    WHERE current_stage <> 'Deleted_Internal';

CREATE TABLE model_version_tags (
    name    text NOT NULL,
    version int  NOT NULL,
    key     text NOT NULL,
    value   text NOT NULL,
    PRIMARY KEY (name, version, key),
    FOREIGN KEY (name, version) REFERENCES model_versions ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX model_version_tags_by_key ON model_version_tags (key, value);

-- One version per alias; an alias always points at a live version (deleting the version
-- removes its aliases, a decision the registry makes, not this key).
CREATE TABLE registered_model_aliases (
    name    text NOT NULL,
    alias   text NOT NULL,
    version int  NOT NULL,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name, version) REFERENCES model_versions ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX registered_model_aliases_by_version ON registered_model_aliases (name, version);
