"""The native SDK: runs through the gateway, metrics, params and tags straight onto the log."""

from services.sdk.client import LedgerflowClient, LedgerflowError, RunLogger
from services.sdk.producer import DeliveryError, ProducerSettings

__all__ = [
    "DeliveryError",
    "LedgerflowClient",
    "LedgerflowError",
    "ProducerSettings",
    "RunLogger",
]
