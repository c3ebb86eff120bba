"""Projections of each event type into the read models (imported for their registrations)."""

from services.projector.handlers import experiments, inputs, metrics, params, runs, tags

__all__ = ["experiments", "inputs", "metrics", "params", "runs", "tags"]
