-- Read models live in their own schema (the search path names it), so that a replay can build a
-- fresh copy beside the live one and swap it in. Tables are added by the tracking and registry
-- migrations that follow; this one records the projection's identity.
CREATE TABLE read_model_info (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO read_model_info (key, value) VALUES ('created_at', clock_timestamp()::text);
