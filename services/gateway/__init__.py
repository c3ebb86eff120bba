"""The gateway: MLflow's REST API, the artifact proxy and ledgerflow's own API over ASGI."""
