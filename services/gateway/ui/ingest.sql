-- Events the projector recorded in the audit log over the last $1 minutes, per minute, stream
-- (topic), event type and verdict; `recent` marks the last 60 seconds. Rows are found through
-- the occurred_at index: an event counts if it occurred at most an hour before the window
-- opened (a backlog older than that is applied but not counted here).
SELECT date_trunc('minute', recorded_at) AS minute,
       topic, event_type, verdict,
       recorded_at >= clock_timestamp() - interval '60 seconds' AS recent,
       count(*) AS events
  FROM audit_log
 WHERE occurred_at >= clock_timestamp() - make_interval(mins => $1) - interval '1 hour'
   AND recorded_at >= clock_timestamp() - make_interval(mins => $1)
 GROUP BY 1, 2, 3, 4, 5
