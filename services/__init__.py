"""ledgerflow services: gateway, projector, registry domain, store, artifacts, event log, SDK."""
