-- Search (services/search): runs newest first as SearchRuns orders them. The search puts runs
-- without a start_time last and orders run_id bytewise (COLLATE "C", the same on every server);
-- runs_by_experiment (start_time DESC = NULLS FIRST, run_id in the database collation) can only
-- serve that order through a sort, so the dashboard's first page would sort a whole experiment.
CREATE INDEX runs_by_experiment_newest
    ON runs (experiment_id, start_time DESC NULLS LAST, run_id COLLATE "C");
