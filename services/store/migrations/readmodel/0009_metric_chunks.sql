-- Metric points stored in chunks: one row per (run, key, logged model, dataset) and projector
-- batch, the points as parallel arrays in the order they were logged. A row per point cost
-- PostgreSQL ~3 CPU-s per million points, more than half of it in maintaining the per-point
-- index; a chunk is one index entry for up to a batch's points (docs/benchmarks/profile-notes.md).
-- `metrics` stays as a view with the columns of the old table, so every reader (history, charts,
-- logged models, bi_v1.metric_history) keeps its SQL; filters on run_key, key_id and model_id
-- reach the chunk table's indexes through the view.
CREATE TABLE metric_chunks (
    run_key        bigint             NOT NULL,
    key_id         int                NOT NULL,
    model_id       text,
    dataset_name   text,
    dataset_digest text,
    steps          bigint[]           NOT NULL,
    timestamps     bigint[]           NOT NULL,
    point_values   double precision[] NOT NULL,
    CHECK (cardinality(steps) = cardinality(timestamps)
           AND cardinality(steps) = cardinality(point_values))
);
-- Arrays out of line but not compressed: pglz would cost more CPU than the whole COPY, and
-- binary numbers barely compress.
ALTER TABLE metric_chunks
    ALTER COLUMN steps SET STORAGE EXTERNAL,
    ALTER COLUMN timestamps SET STORAGE EXTERNAL,
    ALTER COLUMN point_values SET STORAGE EXTERNAL;
CREATE INDEX metric_chunks_history ON metric_chunks (run_key, key_id);
CREATE INDEX metric_chunks_by_model ON metric_chunks (model_id) WHERE model_id IS NOT NULL;

-- Existing points, in chunks of up to 10,000 steps per series.
INSERT INTO metric_chunks (run_key, key_id, model_id, dataset_name, dataset_digest,
                           steps, timestamps, point_values)
SELECT run_key, key_id, model_id, dataset_name, dataset_digest,
       array_agg(step ORDER BY step, timestamp), array_agg(timestamp ORDER BY step, timestamp),
       array_agg(value ORDER BY step, timestamp)
  FROM metrics
 GROUP BY run_key, key_id, model_id, dataset_name, dataset_digest, step / 10000;

-- bi_v1.metric_history reads the table by its id (a view follows what it was created on), so its
-- definition, as PostgreSQL prints it, is read before the rename and replayed once `metrics`
-- names the view: same columns, so its grants and comments stay. A replay's swap does the same
-- for every BI view (services/bi/rebind.py). Only the live schema has bi_v1 views.
DO $migration$
DECLARE
    history text;
BEGIN
    IF current_schema() = 'readmodel' AND to_regclass('bi_v1.metric_history') IS NOT NULL THEN
        history := pg_get_viewdef('bi_v1.metric_history'::regclass);
    END IF;

    ALTER TABLE metrics RENAME TO metrics_rows;

    CREATE VIEW metrics AS
    SELECT c.run_key, c.key_id, p.step, p.timestamp, p.value,
           c.model_id, c.dataset_name, c.dataset_digest
      FROM metric_chunks c
     CROSS JOIN LATERAL unnest(c.steps, c.timestamps, c.point_values) AS p (step, timestamp, value);

    IF history IS NOT NULL THEN
        EXECUTE 'CREATE OR REPLACE VIEW bi_v1.metric_history AS ' || history;
        COMMENT ON VIEW bi_v1.metric_history IS
            'Every metric point as logged (a view over the live table, not a copy: it can hold '
            'billions of rows). Filter on run_id, and key: (run, key) is the index; a filter on '
            'time or experiment alone reads every point.';
    END IF;
END
$migration$;

DROP TABLE metrics_rows;
