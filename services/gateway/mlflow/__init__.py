"""MLflow's REST API: one module per resource, routed under /api/2.0/mlflow and /ajax-api."""
