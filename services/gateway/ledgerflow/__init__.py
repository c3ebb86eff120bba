"""ledgerflow's own HTTP API under /api/ledgerflow/: the event log, verdicts, history."""
