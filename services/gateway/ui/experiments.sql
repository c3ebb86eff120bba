-- Experiments with their run counts and last activity, most recently active first.
-- $1: lifecycle stages to list; $2: at most this many (one more is read to tell "truncated").
-- Last activity is the latest of: the experiment's own update, a run's start or end, and the
-- timestamp of the latest point of any metric of its runs (latest_metrics holds one row per
-- run and key, so the metric history is never read). Two grouped scans, whatever the number of
-- experiments.
WITH run_stats AS (
    SELECT experiment_id,
           count(*) FILTER (WHERE lifecycle_stage = 'active') AS active_runs,
           count(*) FILTER (WHERE lifecycle_stage <> 'active') AS deleted_runs,
           max(greatest(start_time, end_time)) AS last_run_time
      FROM runs
     GROUP BY experiment_id
), metric_stats AS (
    SELECT r.experiment_id, max(l.timestamp) AS last_metric_time
      FROM latest_metrics l JOIN runs r USING (run_key)
     GROUP BY r.experiment_id
)
SELECT e.experiment_id, e.name, e.lifecycle_stage, e.artifact_location,
       e.creation_time, e.last_update_time,
       coalesce(rs.active_runs, 0) AS active_runs,
       coalesce(rs.deleted_runs, 0) AS deleted_runs,
       greatest(e.last_update_time, rs.last_run_time, ms.last_metric_time) AS last_activity
  FROM experiments e
  LEFT JOIN run_stats rs USING (experiment_id)
  LEFT JOIN metric_stats ms USING (experiment_id)
 WHERE e.lifecycle_stage = ANY($1::text[])
 ORDER BY last_activity DESC NULLS LAST, e.experiment_id DESC
 LIMIT $2 + 1
