"""Projections of each event type into the read models (imported for their registrations)."""

from services.projector.handlers import (
    artifacts,
    experiments,
    inputs,
    logged_models,
    metrics,
    params,
    registry,  # noqa: F401  (registers the registry projections)
    retention,
    runs,
    tags,
)

__all__ = [
    "artifacts",
    "experiments",
    "inputs",
    "logged_models",
    "metrics",
    "params",
    "retention",
    "runs",
    "tags",
]
