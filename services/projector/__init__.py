"""The projector: applies batches of events to the read models and the audit log."""
