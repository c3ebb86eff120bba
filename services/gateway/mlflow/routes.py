"""Every MLflow endpoint under /api/2.0/mlflow/ and the /ajax-api/2.0/mlflow/ alias."""

from __future__ import annotations

from starlette.routing import Route

from services.gateway.mlflow import experiments, logged_models, metrics, registry, runs

PREFIXES = ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/")


def mlflow_routes() -> list[Route]:
    table = [
        *experiments.ROUTES,
        *runs.ROUTES,
        *metrics.ROUTES,
        *logged_models.ROUTES,
        *registry.ROUTES,
    ]
    return [
        Route(prefix + path, endpoint, methods=[method])
        for prefix in PREFIXES
        for method, path, endpoint in table
    ]
