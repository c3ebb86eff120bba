"""Projections of each event type into the read models (imported for their registrations)."""

from services.projector.handlers import (
    experiments,
    inputs,
    logged_models,
    metrics,
    params,
    runs,
    tags,
)

__all__ = ["experiments", "inputs", "logged_models", "metrics", "params", "runs", "tags"]
