"""The model registry's domain, pure: frozen state, the decisions (``apply``), history, as-of.

No I/O here. The projector loads the affected models from the read model, calls ``apply`` and
writes back the difference; history and as-of fold the same ``apply`` over the audit log.
"""

from services.registry.decide import (
    REGISTRY_EVENT_TYPES,
    Applied,
    VersionScope,
    apply,
    epoch_millis,
    fold,
    names_of,
    versions_read,
)
from services.registry.errors import RegistryError, RegistryRejection
from services.registry.history import (
    HistoryEntry,
    RecordedEvent,
    ReplayDivergence,
    as_of,
    decisions,
    history,
    recorded,
)
from services.registry.state import (
    ACTIVE_STAGES,
    ALL_STAGES,
    EMPTY,
    IS_PROMPT_TAG,
    STAGE_ARCHIVED,
    STAGE_DELETED_INTERNAL,
    STAGE_NONE,
    STAGE_PRODUCTION,
    STAGE_STAGING,
    ModelVersion,
    RegisteredModel,
    RegistryState,
    canonical_stage,
    latest_versions,
)
from services.registry.views import model_version_json, registered_model_json, version_json

__all__ = [
    "ACTIVE_STAGES",
    "ALL_STAGES",
    "EMPTY",
    "IS_PROMPT_TAG",
    "REGISTRY_EVENT_TYPES",
    "STAGE_ARCHIVED",
    "STAGE_DELETED_INTERNAL",
    "STAGE_NONE",
    "STAGE_PRODUCTION",
    "STAGE_STAGING",
    "Applied",
    "HistoryEntry",
    "ModelVersion",
    "RecordedEvent",
    "RegisteredModel",
    "RegistryError",
    "RegistryRejection",
    "RegistryState",
    "ReplayDivergence",
    "VersionScope",
    "apply",
    "as_of",
    "canonical_stage",
    "decisions",
    "epoch_millis",
    "fold",
    "history",
    "latest_versions",
    "model_version_json",
    "names_of",
    "recorded",
    "registered_model_json",
    "version_json",
    "versions_read",
]
