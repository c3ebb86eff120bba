-- Identifiers handed out by the gateway before the event is written, so that the id is part of
-- the event and a replay reproduces it. Experiment 0 ("Default") is created at first start.
CREATE SEQUENCE experiment_ids START WITH 1;
