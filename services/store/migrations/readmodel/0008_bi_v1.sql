-- bi_v1: the read models as SQL views for BI tools (Grafana, Metabase, notebooks), queried by
-- read-only roles (`ledgerflow bi grant`). Their columns are a public contract: docs/bi.md is
-- generated from the comments below (`ledgerflow bi catalogue --markdown`). A new column (at the
-- end of a view) or a new view is a minor change made by a later migration; renaming, removing
-- or retyping a column needs bi_v2 beside bi_v1.
--
-- The views live in their own schema but read the live read-model tables (`readmodel.*`) and
-- the audit log (`ledgerflow.audit_log`). Two consequences:
--   * This set is also applied to every schema a replay builds (services/replay/schema.py), and
--     bi_v1 must keep reading the LIVE tables meanwhile, so the views are created only when
--     this migration runs on the live schema (current_schema() = 'readmodel'); a later
--     migration that changes bi_v1 needs the same guard.
--   * A replay swap renames schemas, and a view follows the tables it was created on (by id,
--     not by name). The swap therefore re-creates every bi_v* view from its own definition in
--     the same transaction (services/bi/rebind.py), so the views read the rebuilt tables,
--     keeping their grants and comments.
--
-- Natural ids only (run_id, experiment_id, names, version numbers); never run_key or key_id.
-- Epoch-millisecond columns become timestamptz. Views run with their owner's rights, so a
-- reader needs SELECT on the views alone, nothing on the tables behind them.
DO $migration$
BEGIN
IF current_schema() <> 'readmodel' THEN
    RETURN;  -- a replay's fresh schema: bi_v1 follows it at the swap
END IF;

CREATE SCHEMA IF NOT EXISTS bi_v1;
COMMENT ON SCHEMA bi_v1 IS
    'ledgerflow BI views, version 1 (docs/bi.md): columns only ever added, never renamed or removed.';

-- ---------------------------------------------------------------------------------------------
-- Tracking

CREATE VIEW bi_v1.experiments AS
SELECT e.experiment_id,
       e.name AS experiment_name,
       e.lifecycle_stage,
       e.artifact_location,
       to_timestamp(e.creation_time / 1000.0) AS creation_time,
       to_timestamp(e.last_update_time / 1000.0) AS last_update_time,
       COALESCE((SELECT jsonb_object_agg(t.key, t.value)
                   FROM readmodel.experiment_tags t
                  WHERE t.experiment_id = e.experiment_id), '{}') AS tags,
       (SELECT count(*)
          FROM readmodel.runs r
         WHERE r.experiment_id = e.experiment_id AND r.lifecycle_stage = 'active') AS active_runs,
       (SELECT to_timestamp(max(r.start_time) / 1000.0)
          FROM readmodel.runs r
         WHERE r.experiment_id = e.experiment_id AND r.lifecycle_stage = 'active')
           AS last_run_start_time
  FROM readmodel.experiments e;

COMMENT ON VIEW bi_v1.experiments IS
    'One row per experiment, deleted ones included (lifecycle_stage).';
COMMENT ON COLUMN bi_v1.experiments.experiment_id IS
    'MLflow''s experiment id (the REST API shows it as a string, e.g. "3"); 0 is "Default".';
COMMENT ON COLUMN bi_v1.experiments.experiment_name IS 'Unique name.';
COMMENT ON COLUMN bi_v1.experiments.lifecycle_stage IS '`active` or `deleted`.';
COMMENT ON COLUMN bi_v1.experiments.artifact_location IS
    'Root URI of its runs'' artifacts (e.g. `mlflow-artifacts:/3`).';
COMMENT ON COLUMN bi_v1.experiments.creation_time IS 'When it was created.';
COMMENT ON COLUMN bi_v1.experiments.last_update_time IS
    'Last rename, deletion or restore (MLflow''s last_update_time).';
COMMENT ON COLUMN bi_v1.experiments.tags IS
    'Experiment tags as a JSON object {"key": "value"}; {} when none.';
COMMENT ON COLUMN bi_v1.experiments.active_runs IS 'Number of its runs that are not deleted.';
COMMENT ON COLUMN bi_v1.experiments.last_run_start_time IS
    'Start of its most recently started run that is not deleted; NULL when none.';

CREATE VIEW bi_v1.runs AS
SELECT r.run_id,
       r.name AS run_name,
       r.experiment_id,
       e.name AS experiment_name,
       r.status,
       r.lifecycle_stage,
       r.user_id,
       to_timestamp(r.start_time / 1000.0) AS start_time,
       to_timestamp(r.end_time / 1000.0) AS end_time,
       ((r.end_time - r.start_time) / 1000.0)::double precision AS duration_seconds,
       to_timestamp(r.deleted_time / 1000.0) AS deleted_time,
       r.artifact_uri,
       COALESCE((SELECT jsonb_object_agg(p.key, p.value)
                   FROM readmodel.run_params p
                  WHERE p.run_key = r.run_key), '{}') AS params,
       COALESCE((SELECT jsonb_object_agg(k.key, m.value)
                   FROM readmodel.latest_metrics m
                   JOIN readmodel.metric_keys k ON k.key_id = m.key_id
                  WHERE m.run_key = r.run_key), '{}') AS metrics,
       COALESCE((SELECT jsonb_object_agg(t.key, t.value)
                   FROM readmodel.run_tags t
                  WHERE t.run_key = r.run_key), '{}') AS tags
  FROM readmodel.runs r
  JOIN readmodel.experiments e ON e.experiment_id = r.experiment_id;

COMMENT ON VIEW bi_v1.runs IS
    'One row per run, deleted ones included (lifecycle_stage), with its params, latest metrics '
    'and tags flattened into JSON objects. Filter on experiment_id or run_id: both are indexed.';
COMMENT ON COLUMN bi_v1.runs.run_id IS 'MLflow''s run id (32 hex characters).';
COMMENT ON COLUMN bi_v1.runs.run_name IS 'The run''s name (MLflow''s run_name).';
COMMENT ON COLUMN bi_v1.runs.experiment_id IS 'Its experiment (bi_v1.experiments).';
COMMENT ON COLUMN bi_v1.runs.experiment_name IS 'Its experiment''s name now.';
COMMENT ON COLUMN bi_v1.runs.status IS '`RUNNING`, `SCHEDULED`, `FINISHED`, `FAILED` or `KILLED`.';
COMMENT ON COLUMN bi_v1.runs.lifecycle_stage IS '`active` or `deleted`.';
COMMENT ON COLUMN bi_v1.runs.user_id IS 'The user the client reported (MLflow''s user_id).';
COMMENT ON COLUMN bi_v1.runs.start_time IS 'When it started, as the client reported.';
COMMENT ON COLUMN bi_v1.runs.end_time IS 'When it ended; NULL while it runs.';
COMMENT ON COLUMN bi_v1.runs.duration_seconds IS 'end_time - start_time in seconds; NULL while it runs.';
COMMENT ON COLUMN bi_v1.runs.deleted_time IS 'When it was deleted; NULL unless deleted.';
COMMENT ON COLUMN bi_v1.runs.artifact_uri IS 'Root URI of its artifacts.';
COMMENT ON COLUMN bi_v1.runs.params IS
    'Params as a JSON object {"key": "value"} (values are strings); {} when none.';
COMMENT ON COLUMN bi_v1.runs.metrics IS
    'Latest value of each metric as a JSON object {"key": number}; NaN and infinities, which '
    'JSON numbers cannot hold, appear as the strings "NaN", "Infinity", "-Infinity" '
    '((metrics->>''key'')::float8 turns all of them back into numbers); {} when none.';
COMMENT ON COLUMN bi_v1.runs.tags IS
    'Run tags as a JSON object {"key": "value"}, MLflow''s own (mlflow.*) included; {} when none.';

CREATE VIEW bi_v1.run_params AS
SELECT r.run_id, r.experiment_id, p.key, p.value
  FROM readmodel.run_params p
  JOIN readmodel.runs r ON r.run_key = p.run_key;

COMMENT ON VIEW bi_v1.run_params IS 'One row per run param (long format of runs.params).';
COMMENT ON COLUMN bi_v1.run_params.run_id IS 'The run (bi_v1.runs).';
COMMENT ON COLUMN bi_v1.run_params.experiment_id IS 'The run''s experiment.';
COMMENT ON COLUMN bi_v1.run_params.key IS 'Param name.';
COMMENT ON COLUMN bi_v1.run_params.value IS 'Param value (always a string, as in MLflow).';

CREATE VIEW bi_v1.run_tags AS
SELECT r.run_id, r.experiment_id, t.key, t.value
  FROM readmodel.run_tags t
  JOIN readmodel.runs r ON r.run_key = t.run_key;

COMMENT ON VIEW bi_v1.run_tags IS 'One row per run tag (long format of runs.tags).';
COMMENT ON COLUMN bi_v1.run_tags.run_id IS 'The run (bi_v1.runs).';
COMMENT ON COLUMN bi_v1.run_tags.experiment_id IS 'The run''s experiment.';
COMMENT ON COLUMN bi_v1.run_tags.key IS 'Tag name (MLflow''s own start with `mlflow.`).';
COMMENT ON COLUMN bi_v1.run_tags.value IS 'Tag value.';

CREATE VIEW bi_v1.run_latest_metrics AS
SELECT r.run_id,
       r.experiment_id,
       k.key,
       m.value,
       m.step,
       to_timestamp(m.timestamp / 1000.0) AS "timestamp",
       m.model_id,
       m.dataset_name,
       m.dataset_digest
  FROM readmodel.latest_metrics m
  JOIN readmodel.runs r ON r.run_key = m.run_key
  JOIN readmodel.metric_keys k ON k.key_id = m.key_id;

COMMENT ON VIEW bi_v1.run_latest_metrics IS
    'One row per (run, metric): its latest point, the greatest (step, timestamp, value) as '
    'MLflow defines it (NaN ranking as 0). Long format of runs.metrics.';
COMMENT ON COLUMN bi_v1.run_latest_metrics.run_id IS 'The run (bi_v1.runs).';
COMMENT ON COLUMN bi_v1.run_latest_metrics.experiment_id IS 'The run''s experiment.';
COMMENT ON COLUMN bi_v1.run_latest_metrics.key IS 'Metric name.';
COMMENT ON COLUMN bi_v1.run_latest_metrics.value IS
    'Latest value; NaN, Infinity and -Infinity as PostgreSQL holds them (NaN sorts above every '
    'number: exclude it with value <> ''NaN'' before max()).';
COMMENT ON COLUMN bi_v1.run_latest_metrics.step IS 'Step of the latest point.';
COMMENT ON COLUMN bi_v1.run_latest_metrics.timestamp IS 'Time the client gave the latest point.';
COMMENT ON COLUMN bi_v1.run_latest_metrics.model_id IS
    'MLflow 3 logged model the point was logged for; NULL if none.';
COMMENT ON COLUMN bi_v1.run_latest_metrics.dataset_name IS
    'Dataset the point was computed on (MLflow 3); NULL if none.';
COMMENT ON COLUMN bi_v1.run_latest_metrics.dataset_digest IS 'That dataset''s digest; NULL if none.';

CREATE VIEW bi_v1.metric_history AS
SELECT r.run_id,
       r.experiment_id,
       k.key,
       m.step,
       to_timestamp(m.timestamp / 1000.0) AS "timestamp",
       m.value,
       m.model_id,
       m.dataset_name,
       m.dataset_digest
  FROM readmodel.metrics m
  JOIN readmodel.runs r ON r.run_key = m.run_key
  JOIN readmodel.metric_keys k ON k.key_id = m.key_id;

COMMENT ON VIEW bi_v1.metric_history IS
    'Every metric point as logged (a view over the live table, not a copy: it can hold billions '
    'of rows). Filter on run_id, and key: (run, key, step) is the index; a filter on time or '
    'experiment alone reads every point.';
COMMENT ON COLUMN bi_v1.metric_history.run_id IS 'The run (bi_v1.runs).';
COMMENT ON COLUMN bi_v1.metric_history.experiment_id IS 'The run''s experiment.';
COMMENT ON COLUMN bi_v1.metric_history.key IS 'Metric name.';
COMMENT ON COLUMN bi_v1.metric_history.step IS 'Step the client gave (0 if none).';
COMMENT ON COLUMN bi_v1.metric_history.timestamp IS 'Time the client gave the point.';
COMMENT ON COLUMN bi_v1.metric_history.value IS
    'The value; NaN, Infinity and -Infinity as PostgreSQL holds them.';
COMMENT ON COLUMN bi_v1.metric_history.model_id IS
    'MLflow 3 logged model the point was logged for; NULL if none.';
COMMENT ON COLUMN bi_v1.metric_history.dataset_name IS
    'Dataset the point was computed on (MLflow 3); NULL if none.';
COMMENT ON COLUMN bi_v1.metric_history.dataset_digest IS 'That dataset''s digest; NULL if none.';

-- ---------------------------------------------------------------------------------------------
-- Registry state

CREATE VIEW bi_v1.registered_models AS
SELECT m.name AS model_name,
       m.description,
       m.user_id,
       to_timestamp(m.creation_timestamp / 1000.0) AS creation_time,
       to_timestamp(m.last_updated_timestamp / 1000.0) AS last_updated_time,
       m.last_version,
       (SELECT count(*)
          FROM readmodel.model_versions v
         WHERE v.name = m.name AND v.current_stage <> 'Deleted_Internal') AS live_versions,
       (SELECT max(v.version)
          FROM readmodel.model_versions v
         WHERE v.name = m.name AND v.current_stage = 'Production') AS production_version,
       (SELECT max(v.version)
          FROM readmodel.model_versions v
         WHERE v.name = m.name AND v.current_stage = 'Staging') AS staging_version,
       COALESCE((SELECT jsonb_object_agg(a.alias, a.version)
                   FROM readmodel.registered_model_aliases a
                  WHERE a.name = m.name), '{}') AS aliases,
       COALESCE((SELECT jsonb_object_agg(t.key, t.value)
                   FROM readmodel.registered_model_tags t
                  WHERE t.name = m.name), '{}') AS tags
  FROM readmodel.registered_models m;

COMMENT ON VIEW bi_v1.registered_models IS
    'One row per registered model that exists now (a deleted model is gone; its past is in '
    'registry_history).';
COMMENT ON COLUMN bi_v1.registered_models.model_name IS 'Unique name (it changes on a rename).';
COMMENT ON COLUMN bi_v1.registered_models.description IS 'Description; NULL if none.';
COMMENT ON COLUMN bi_v1.registered_models.user_id IS
    'Who created it (NULL when anonymous).';
COMMENT ON COLUMN bi_v1.registered_models.creation_time IS 'When it was created.';
COMMENT ON COLUMN bi_v1.registered_models.last_updated_time IS
    'Last change to it or a version''s stage (MLflow''s bookkeeping; tags and aliases do not count).';
COMMENT ON COLUMN bi_v1.registered_models.last_version IS
    'Highest version number ever given (deleted versions count: numbers are never reused).';
COMMENT ON COLUMN bi_v1.registered_models.live_versions IS 'Number of versions not deleted.';
COMMENT ON COLUMN bi_v1.registered_models.production_version IS
    'Highest version in stage Production (what MLflow''s latest-versions returns); NULL if none.';
COMMENT ON COLUMN bi_v1.registered_models.staging_version IS
    'Highest version in stage Staging; NULL if none.';
COMMENT ON COLUMN bi_v1.registered_models.aliases IS
    'Aliases as a JSON object {"alias": version number}; {} when none.';
COMMENT ON COLUMN bi_v1.registered_models.tags IS
    'Model tags as a JSON object {"key": "value"}; {} when none.';

CREATE VIEW bi_v1.model_versions AS
SELECT v.name AS model_name,
       v.version,
       v.current_stage AS stage,
       v.status,
       ARRAY(SELECT a.alias
               FROM readmodel.registered_model_aliases a
              WHERE a.name = v.name AND a.version = v.version
              ORDER BY a.alias) AS aliases,
       v.description,
       v.user_id,
       v.source,
       v.run_id,
       v.run_link,
       v.model_id,
       to_timestamp(v.creation_timestamp / 1000.0) AS creation_time,
       to_timestamp(v.last_updated_timestamp / 1000.0) AS last_updated_time,
       COALESCE((SELECT jsonb_object_agg(t.key, t.value)
                   FROM readmodel.model_version_tags t
                  WHERE t.name = v.name AND t.version = v.version), '{}') AS tags
  FROM readmodel.model_versions v
 WHERE v.current_stage <> 'Deleted_Internal';

COMMENT ON VIEW bi_v1.model_versions IS
    'One row per model version that exists now (deleted versions are left out, as MLflow does).';
COMMENT ON COLUMN bi_v1.model_versions.model_name IS 'Its registered model.';
COMMENT ON COLUMN bi_v1.model_versions.version IS 'Version number (1, 2, ...; never reused).';
COMMENT ON COLUMN bi_v1.model_versions.stage IS
    '`None`, `Staging`, `Production` or `Archived`.';
COMMENT ON COLUMN bi_v1.model_versions.status IS 'MLflow''s status (`READY`).';
COMMENT ON COLUMN bi_v1.model_versions.aliases IS 'Aliases pointing at it, sorted; {} when none.';
COMMENT ON COLUMN bi_v1.model_versions.description IS 'Description; NULL if none.';
COMMENT ON COLUMN bi_v1.model_versions.user_id IS 'Who created it (NULL when anonymous).';
COMMENT ON COLUMN bi_v1.model_versions.source IS
    'Where its files are (`runs:/<run_id>/model`, `models:/<model_id>`, a URI).';
COMMENT ON COLUMN bi_v1.model_versions.run_id IS 'The run it came from (bi_v1.runs); NULL if none.';
COMMENT ON COLUMN bi_v1.model_versions.run_link IS 'Link to that run, as the client gave it.';
COMMENT ON COLUMN bi_v1.model_versions.model_id IS 'MLflow 3 logged model it was made from; NULL if none.';
COMMENT ON COLUMN bi_v1.model_versions.creation_time IS 'When it was created.';
COMMENT ON COLUMN bi_v1.model_versions.last_updated_time IS
    'Last change to its stage or description (or a rename of its model).';
COMMENT ON COLUMN bi_v1.model_versions.tags IS
    'Version tags as a JSON object {"key": "value"}; {} when none.';

CREATE VIEW bi_v1.model_version_aliases AS
SELECT a.name AS model_name, a.alias, a.version
  FROM readmodel.registered_model_aliases a;

COMMENT ON VIEW bi_v1.model_version_aliases IS
    'One row per alias that exists now (an alias points at exactly one live version).';
COMMENT ON COLUMN bi_v1.model_version_aliases.model_name IS 'The registered model.';
COMMENT ON COLUMN bi_v1.model_version_aliases.alias IS 'Alias name (e.g. `champion`).';
COMMENT ON COLUMN bi_v1.model_version_aliases.version IS 'The version it points at.';

CREATE VIEW bi_v1.model_version_tags AS
SELECT t.name AS model_name, t.version, t.key, t.value
  FROM readmodel.model_version_tags t
  JOIN readmodel.model_versions v ON v.name = t.name AND v.version = t.version
 WHERE v.current_stage <> 'Deleted_Internal';

COMMENT ON VIEW bi_v1.model_version_tags IS
    'One row per tag of a live model version (long format of model_versions.tags).';
COMMENT ON COLUMN bi_v1.model_version_tags.model_name IS 'The registered model.';
COMMENT ON COLUMN bi_v1.model_version_tags.version IS 'The version.';
COMMENT ON COLUMN bi_v1.model_version_tags.key IS 'Tag name.';
COMMENT ON COLUMN bi_v1.model_version_tags.value IS 'Tag value.';

CREATE VIEW bi_v1.registered_model_tags AS
SELECT t.name AS model_name, t.key, t.value
  FROM readmodel.registered_model_tags t;

COMMENT ON VIEW bi_v1.registered_model_tags IS
    'One row per tag of a registered model (long format of registered_models.tags).';
COMMENT ON COLUMN bi_v1.registered_model_tags.model_name IS 'The registered model.';
COMMENT ON COLUMN bi_v1.registered_model_tags.key IS 'Tag name.';
COMMENT ON COLUMN bi_v1.registered_model_tags.value IS 'Tag value.';

-- ---------------------------------------------------------------------------------------------
-- Registry history, from the audit log
--
-- Registry events travel on the control stream; reading its chains alone goes through the
-- audit log's (chain, chain_seq) index rather than every metric batch ever logged (as
-- services/store/registry.py does). A model keeps its identity through renames: `tenures` are
-- the spans of seq during which a model bore a name, chained from its creation through each
-- accepted rename; an event belongs to the model that bore its name at its seq. Stages and
-- aliases before an event are the last ones set before it (window functions over the accepted
-- events that set them). This reads the payload fields of the registry events' schema version
-- 1; an upcaster for one of them needs its counterpart here.

CREATE VIEW bi_v1.registry_history AS
WITH RECURSIVE
events AS (
    SELECT l.*, l.event #>> '{payload,name}' AS model_name
      FROM (SELECT a.seq, a.recorded_at, a.occurred_at, a.event_id, a.event_type,
                   a.actor_name, a.actor_kind, a.verdict, a.error_code, a.reason,
                   a.event::jsonb AS event,
                   a.outcome::jsonb AS outcome
              FROM ledgerflow.audit_log a
             WHERE a.chain = ANY (ARRAY(SELECT h.chain
                                          FROM ledgerflow.audit_chain_heads h
                                         WHERE h.chain ~ '\.control/[0-9]+$'))
               AND a.event_type IN (
                       'registered_model.created', 'registered_model.renamed',
                       'registered_model.updated', 'registered_model.deleted',
                       'registered_model.tag_set', 'registered_model.tag_deleted',
                       'model_version.created', 'model_version.updated',
                       'model_version.deleted', 'model_version.stage_transitioned',
                       'model_version.tag_set', 'model_version.tag_deleted',
                       'model_alias.set', 'model_alias.deleted', 'promotion.decided')) l
),
name_ends AS (  -- accepted renames and deletions: each ends a model's tenure of a name
    SELECT seq, model_name,
           CASE WHEN event_type = 'registered_model.renamed'
                THEN event #>> '{payload,new_name}' END AS new_name
      FROM events
     WHERE verdict = 'accepted'
       AND event_type IN ('registered_model.renamed', 'registered_model.deleted')
),
tenures (created_seq, model_name, from_seq) AS (
    SELECT seq, model_name, seq
      FROM events
     WHERE verdict = 'accepted' AND event_type = 'registered_model.created'
    UNION ALL
    SELECT t.created_seq, e.new_name, e.seq
      FROM tenures t
      JOIN name_ends e ON e.model_name = t.model_name AND e.seq > t.from_seq
     WHERE e.new_name IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM name_ends x
                        WHERE x.model_name = t.model_name
                          AND x.seq > t.from_seq AND x.seq < e.seq)
),
spans AS MATERIALIZED (  -- each tenure's end, computed once
    SELECT t.created_seq, t.model_name, t.from_seq,
           (SELECT min(e.seq) FROM name_ends e
             WHERE e.model_name = t.model_name AND e.seq > t.from_seq) AS to_seq,
           first_value(t.model_name) OVER (PARTITION BY t.created_seq ORDER BY t.from_seq DESC)
               AS latest_name
      FROM tenures t
),
attributed AS (
    SELECT ev.*,
           s.created_seq,
           s.latest_name,
           COALESCE((ev.event #>> '{payload,version}')::int,
                    CASE WHEN ev.event_type = 'model_version.created'
                         THEN (ev.outcome ->> 'version')::int END) AS version
      FROM events ev
      LEFT JOIN spans s
        ON s.model_name = ev.model_name
       AND s.from_seq <= ev.seq
       -- a tenure that began with a rename starts after it; the rename is the old name's
       AND (s.from_seq < ev.seq OR s.from_seq = s.created_seq)
       AND (s.to_seq IS NULL OR ev.seq <= s.to_seq)
),
stage_steps AS (  -- every accepted change of a version's stage, with the stage before it
    SELECT created_seq, version, seq, is_target, stage,
           lag(stage) OVER (PARTITION BY created_seq, version ORDER BY seq) AS stage_before
      FROM (SELECT created_seq, version, seq, true AS is_target, 'None' AS stage
              FROM attributed
             WHERE verdict = 'accepted' AND event_type = 'model_version.created'
            UNION ALL
            SELECT created_seq, version, seq, true, outcome ->> 'stage'
              FROM attributed
             WHERE verdict = 'accepted' AND event_type = 'model_version.stage_transitioned'
            UNION ALL
            SELECT a.created_seq, archived.version::int, a.seq, false, 'Archived'
              FROM attributed a,
                   jsonb_array_elements_text(a.outcome -> 'archived_versions')
                       AS archived(version)
             WHERE a.verdict = 'accepted' AND a.event_type = 'model_version.stage_transitioned'
            UNION ALL
            SELECT created_seq, version, seq, true, 'Deleted_Internal'
              FROM attributed
             WHERE verdict = 'accepted' AND event_type = 'model_version.deleted') changes
),
alias_steps AS (  -- every accepted change of an alias, with the version it pointed at before
    SELECT created_seq, alias, seq, version,
           lag(version) OVER (PARTITION BY created_seq, alias ORDER BY seq) AS version_before
      FROM (SELECT created_seq, event #>> '{payload,alias}' AS alias, seq, version
              FROM attributed
             WHERE verdict = 'accepted' AND event_type = 'model_alias.set'
            UNION ALL
            SELECT created_seq, event #>> '{payload,alias}', seq, NULL
              FROM attributed
             WHERE verdict = 'accepted' AND event_type = 'model_alias.deleted'
               AND (outcome ->> 'deleted')::boolean
            UNION ALL
            SELECT a.created_seq, removed.alias, a.seq, NULL
              FROM attributed a,
                   jsonb_array_elements_text(a.outcome -> 'removed_aliases') AS removed(alias)
             WHERE a.verdict = 'accepted' AND a.event_type = 'model_version.deleted') changes
)
SELECT a.seq,
       a.recorded_at,
       a.occurred_at,
       a.event_id,
       a.event_type,
       a.actor_name,
       a.actor_kind,
       a.event ->> 'source' AS source,
       a.model_name,
       a.created_seq AS model_created_seq,
       a.latest_name AS model_latest_name,
       a.event #>> '{payload,new_name}' AS new_model_name,
       a.version,
       a.verdict,
       a.error_code,
       a.reason,
       st.stage_before,
       st.stage AS stage_after,
       CASE WHEN a.event_type = 'model_version.stage_transitioned' AND a.verdict = 'accepted'
            THEN ARRAY(SELECT v::int
                         FROM jsonb_array_elements_text(a.outcome -> 'archived_versions') v)
       END AS archived_versions,
       a.event #>> '{payload,alias}' AS alias,
       al.version_before AS alias_version_before,
       al.version AS alias_version_after,
       CASE WHEN a.event_type = 'promotion.decided'
            THEN (a.event #>> '{payload,passed}')::boolean END AS promotion_passed,
       CASE WHEN a.event_type = 'promotion.decided'
            THEN a.event #> '{payload,conditions}' END AS promotion_conditions,
       (a.event ->> 'schema_version')::int AS schema_version,
       a.event -> 'payload' AS payload,
       a.outcome
  FROM attributed a
  LEFT JOIN stage_steps st
    ON st.is_target AND st.stage <> 'Deleted_Internal'
   AND a.event_type IN ('model_version.created', 'model_version.stage_transitioned')
   AND st.created_seq = a.created_seq AND st.version = a.version AND st.seq = a.seq
  LEFT JOIN alias_steps al
    ON a.event_type IN ('model_alias.set', 'model_alias.deleted')
   AND al.created_seq = a.created_seq AND al.alias = a.event #>> '{payload,alias}'
   AND al.seq = a.seq;

COMMENT ON VIEW bi_v1.registry_history IS
    'One row per registry event in the audit log, accepted or rejected (order by seq): who did '
    'what to which model and version, when, with which verdict, the stage or alias before and '
    'after, and promotion decisions with their conditions. A model keeps model_created_seq '
    'through renames: filter on it (or on model_latest_name) for its whole story.';
COMMENT ON COLUMN bi_v1.registry_history.seq IS
    'Audit sequence number (global order; as in `ledgerflow registry history`).';
COMMENT ON COLUMN bi_v1.registry_history.recorded_at IS
    'When the projector decided and recorded it (the time "as of" queries use).';
COMMENT ON COLUMN bi_v1.registry_history.occurred_at IS 'When its producer says it happened.';
COMMENT ON COLUMN bi_v1.registry_history.event_id IS 'The event''s id (a UUIDv7).';
COMMENT ON COLUMN bi_v1.registry_history.event_type IS
    'e.g. `model_version.stage_transitioned`, `model_alias.set`, `promotion.decided`.';
COMMENT ON COLUMN bi_v1.registry_history.actor_name IS 'Who did it.';
COMMENT ON COLUMN bi_v1.registry_history.actor_kind IS
    '`authenticated` (verified), `self_reported` (a client''s claim), `anonymous` or `system`.';
COMMENT ON COLUMN bi_v1.registry_history.source IS
    'Where the event entered (`gateway`, `cli`, `sdk`, ...).';
COMMENT ON COLUMN bi_v1.registry_history.model_name IS
    'The registered model it names (its name at that moment).';
COMMENT ON COLUMN bi_v1.registry_history.model_created_seq IS
    'seq of the registered_model.created that began this model''s life: the same through '
    'renames; NULL for an event about a model that did not exist (rejected).';
COMMENT ON COLUMN bi_v1.registry_history.model_latest_name IS
    'The name the model bears now, or bore when it was deleted.';
COMMENT ON COLUMN bi_v1.registry_history.new_model_name IS
    'For registered_model.renamed: the new name; NULL otherwise.';
COMMENT ON COLUMN bi_v1.registry_history.version IS
    'The version it concerns (for model_version.created the number it was given); NULL for '
    'model-level events and for a refused creation.';
COMMENT ON COLUMN bi_v1.registry_history.verdict IS '`accepted` or `rejected`.';
COMMENT ON COLUMN bi_v1.registry_history.error_code IS
    'MLflow''s error code of a rejection (e.g. `RESOURCE_DOES_NOT_EXIST`); NULL if accepted.';
COMMENT ON COLUMN bi_v1.registry_history.reason IS 'Why it was rejected; NULL if accepted.';
COMMENT ON COLUMN bi_v1.registry_history.stage_before IS
    'For an accepted model_version.stage_transitioned: the version''s stage before it; NULL '
    'otherwise (also for model_version.created, whose version did not exist).';
COMMENT ON COLUMN bi_v1.registry_history.stage_after IS
    'For an accepted model_version.stage_transitioned: its stage after it (`None`, `Staging`, '
    '`Production`, `Archived`); `None` for an accepted model_version.created; NULL otherwise.';
COMMENT ON COLUMN bi_v1.registry_history.archived_versions IS
    'For an accepted stage transition: the versions it moved to Archived '
    '(archive_existing_versions), {} when none; NULL otherwise.';
COMMENT ON COLUMN bi_v1.registry_history.alias IS
    'For model_alias.set and model_alias.deleted: the alias; NULL otherwise.';
COMMENT ON COLUMN bi_v1.registry_history.alias_version_before IS
    'For an accepted alias event: the version the alias pointed at before (NULL if it did not '
    'exist); NULL otherwise.';
COMMENT ON COLUMN bi_v1.registry_history.alias_version_after IS
    'For an accepted model_alias.set: the version it points at after; NULL otherwise.';
COMMENT ON COLUMN bi_v1.registry_history.promotion_passed IS
    'For promotion.decided: whether every condition of the gate held; NULL otherwise.';
COMMENT ON COLUMN bi_v1.registry_history.promotion_conditions IS
    'For promotion.decided: the conditions as a JSON array of {"expression", "candidate", '
    '"current", "passed", "detail"}; NULL otherwise.';
COMMENT ON COLUMN bi_v1.registry_history.schema_version IS 'The payload''s schema version.';
COMMENT ON COLUMN bi_v1.registry_history.payload IS 'The event''s payload as its producer wrote it.';
COMMENT ON COLUMN bi_v1.registry_history.outcome IS
    'What the decision reported, as JSON: e.g. {"version": 3} for a created version, '
    '{"stage", "version", "archived_versions"} for a transition, {"previous_version", '
    '"version"} for an alias; the rejection''s details for a rejected event; NULL if none.';

-- Promotions: every accepted stage transition and alias assignment, with the passed gate
-- decision that preceded it, if any. A decision goes with the first application of the same
-- target (stage or alias) to the same version after it: per (model, version, target), the
-- event just before an application, if it is a passed decision.
CREATE VIEW bi_v1.promotions AS
WITH history AS (
    SELECT * FROM bi_v1.registry_history
),
moves AS (
    SELECT seq, model_created_seq, version, event_type,
           CASE event_type
                WHEN 'promotion.decided'
                THEN COALESCE(lower(payload ->> 'target_stage'), '@' || (payload ->> 'target_alias'))
                WHEN 'model_version.stage_transitioned' THEN lower(stage_after)
                ELSE '@' || alias
           END AS target
      FROM history
     WHERE verdict = 'accepted'
       AND (event_type IN ('model_version.stage_transitioned', 'model_alias.set')
            OR (event_type = 'promotion.decided' AND promotion_passed))
),
paired AS (
    SELECT seq, event_type,
           lag(seq) OVER w AS previous_seq,
           lag(event_type) OVER w AS previous_type
      FROM moves
    WINDOW w AS (PARTITION BY model_created_seq, version, target ORDER BY seq)
)
SELECT p.seq,
       p.recorded_at AS promoted_at,
       p.actor_name,
       p.actor_kind,
       p.model_name,
       p.model_created_seq,
       p.model_latest_name,
       p.version,
       CASE p.event_type WHEN 'model_alias.set' THEN 'alias' ELSE 'stage' END AS kind,
       p.stage_before,
       p.stage_after,
       p.archived_versions,
       p.alias,
       p.alias_version_before,
       d.seq AS decision_seq,
       d.actor_name AS decided_by,
       d.promotion_conditions AS decision_conditions
  FROM history p
  JOIN paired pr ON pr.seq = p.seq AND pr.event_type <> 'promotion.decided'
  LEFT JOIN history d
    ON pr.previous_type = 'promotion.decided' AND d.seq = pr.previous_seq;

COMMENT ON VIEW bi_v1.promotions IS
    'One row per accepted stage transition or alias assignment (demotions to Archived or None '
    'included: filter on stage_after), with the passed promotion gate that allowed it, if one '
    'did (`ledgerflow promote`).';
COMMENT ON COLUMN bi_v1.promotions.seq IS 'Audit sequence number of the change.';
COMMENT ON COLUMN bi_v1.promotions.promoted_at IS 'When it was recorded.';
COMMENT ON COLUMN bi_v1.promotions.actor_name IS 'Who made the change.';
COMMENT ON COLUMN bi_v1.promotions.actor_kind IS
    '`authenticated`, `self_reported`, `anonymous` or `system`.';
COMMENT ON COLUMN bi_v1.promotions.model_name IS 'The registered model (its name then).';
COMMENT ON COLUMN bi_v1.promotions.model_created_seq IS
    'The model''s identity through renames (see registry_history).';
COMMENT ON COLUMN bi_v1.promotions.model_latest_name IS
    'The name the model bears now, or bore when it was deleted.';
COMMENT ON COLUMN bi_v1.promotions.version IS 'The version promoted.';
COMMENT ON COLUMN bi_v1.promotions.kind IS '`stage` (a stage transition) or `alias`.';
COMMENT ON COLUMN bi_v1.promotions.stage_before IS 'For `stage`: the version''s stage before.';
COMMENT ON COLUMN bi_v1.promotions.stage_after IS 'For `stage`: its stage after.';
COMMENT ON COLUMN bi_v1.promotions.archived_versions IS
    'For `stage`: versions moved to Archived by it, {} when none.';
COMMENT ON COLUMN bi_v1.promotions.alias IS 'For `alias`: the alias now pointing at version.';
COMMENT ON COLUMN bi_v1.promotions.alias_version_before IS
    'For `alias`: the version it pointed at before; NULL if it was new.';
COMMENT ON COLUMN bi_v1.promotions.decision_seq IS
    'seq of the passed promotion.decided that allowed it (promotion_decisions); NULL if ungated.';
COMMENT ON COLUMN bi_v1.promotions.decided_by IS 'Who ran that gate; NULL if ungated.';
COMMENT ON COLUMN bi_v1.promotions.decision_conditions IS
    'That gate''s conditions (JSON array, see registry_history); NULL if ungated.';

CREATE VIEW bi_v1.promotion_decisions AS
SELECT h.seq,
       h.recorded_at AS decided_at,
       h.actor_name,
       h.actor_kind,
       h.model_name,
       h.model_created_seq,
       h.model_latest_name,
       h.version,
       h.payload ->> 'target_stage' AS target_stage,
       h.payload ->> 'target_alias' AS target_alias,
       (h.payload ->> 'replaced_version')::int AS replaced_version,
       h.promotion_passed AS passed,
       jsonb_array_length(h.promotion_conditions) AS conditions_total,
       (SELECT count(*)::int
          FROM jsonb_array_elements(h.promotion_conditions) c
         WHERE NOT (c ->> 'passed')::boolean) AS conditions_failed,
       h.promotion_conditions AS conditions,
       h.verdict,
       h.reason,
       p.seq AS applied_seq
  FROM bi_v1.registry_history h
  LEFT JOIN bi_v1.promotions p ON p.decision_seq = h.seq
 WHERE h.event_type = 'promotion.decided';

COMMENT ON VIEW bi_v1.promotion_decisions IS
    'One row per promotion gate decision (`ledgerflow promote`), passed or failed, and the '
    'promotion that carried it out, if any.';
COMMENT ON COLUMN bi_v1.promotion_decisions.seq IS 'Audit sequence number of the decision.';
COMMENT ON COLUMN bi_v1.promotion_decisions.decided_at IS 'When it was recorded.';
COMMENT ON COLUMN bi_v1.promotion_decisions.actor_name IS 'Who ran the gate.';
COMMENT ON COLUMN bi_v1.promotion_decisions.actor_kind IS
    '`authenticated`, `self_reported`, `anonymous` or `system`.';
COMMENT ON COLUMN bi_v1.promotion_decisions.model_name IS 'The registered model (its name then).';
COMMENT ON COLUMN bi_v1.promotion_decisions.model_created_seq IS
    'The model''s identity through renames (see registry_history).';
COMMENT ON COLUMN bi_v1.promotion_decisions.model_latest_name IS
    'The name the model bears now, or bore when it was deleted.';
COMMENT ON COLUMN bi_v1.promotion_decisions.version IS 'The candidate version.';
COMMENT ON COLUMN bi_v1.promotion_decisions.target_stage IS
    'Stage it was to go to; NULL for an alias.';
COMMENT ON COLUMN bi_v1.promotion_decisions.target_alias IS
    'Alias it was to get; NULL for a stage.';
COMMENT ON COLUMN bi_v1.promotion_decisions.replaced_version IS
    'The version it was compared with (then in the stage, or under the alias); NULL if none.';
COMMENT ON COLUMN bi_v1.promotion_decisions.passed IS 'Whether every condition held.';
COMMENT ON COLUMN bi_v1.promotion_decisions.conditions_total IS 'Number of conditions.';
COMMENT ON COLUMN bi_v1.promotion_decisions.conditions_failed IS 'Number that did not hold.';
COMMENT ON COLUMN bi_v1.promotion_decisions.conditions IS
    'The conditions as a JSON array of {"expression", "candidate", "current", "passed", '
    '"detail"}.';
COMMENT ON COLUMN bi_v1.promotion_decisions.verdict IS
    '`accepted`, or `rejected` when the version did not exist.';
COMMENT ON COLUMN bi_v1.promotion_decisions.reason IS 'Why it was rejected; NULL if accepted.';
COMMENT ON COLUMN bi_v1.promotion_decisions.applied_seq IS
    'seq of the promotion (bi_v1.promotions) that carried it out; NULL if none did (a failed '
    'gate, or one not applied yet).';
END
$migration$;
