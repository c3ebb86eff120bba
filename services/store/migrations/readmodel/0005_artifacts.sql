-- Stored artifact files, projected from artifact.stored (services/projector/handlers/artifacts.py).
-- One row per store key; a later write of the same key replaces the row (last write wins, in log
-- order: a run's and a model's events share one data partition). Owned by a run or by a logged
-- model, referenced by id rather than by runs.run_key: an upload may be projected before the run
-- it belongs to exists (artifact events travel on the data topic, run creation on the control
-- topic), and it is recorded all the same.
CREATE TABLE artifact_files (
    store_path    text   PRIMARY KEY,   -- the event's path: the key relative to the store root
    run_id        text,
    model_id      text,
    experiment_id text   NOT NULL,
    path          text   NOT NULL,      -- relative to the run's or model's artifact root
    size          bigint NOT NULL,
    sha256        text   NOT NULL,
    stored_at     bigint NOT NULL,      -- event time in epoch ms, so a replay reproduces it
    event_id      uuid   NOT NULL,
    CHECK (num_nonnulls(run_id, model_id) = 1)
);
CREATE INDEX artifact_files_by_run ON artifact_files (run_id, path) WHERE run_id IS NOT NULL;
CREATE INDEX artifact_files_by_model ON artifact_files (model_id, path) WHERE model_id IS NOT NULL;
