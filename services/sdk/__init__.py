"""The native SDK: runs through the gateway, metrics, params and tags straight onto the log."""

from services.sdk.client import LedgerflowClient, RunLogger

__all__ = ["LedgerflowClient", "RunLogger"]
