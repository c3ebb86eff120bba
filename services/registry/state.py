"""The registry's state as frozen values: registered models by name, their versions by number.

Every field is one MLflow shows (timestamps in epoch milliseconds, derived from the events'
``occurred_at``), plus what the decisions need: ``last_version``, so that numbers only grow, and
the soft-deleted versions, which keep their numbers taken (MLflow marks them ``Deleted_Internal``
and never returns them).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from services.registry.errors import RegistryError, invalid_stage

STAGE_NONE = "None"
STAGE_STAGING = "Staging"
STAGE_PRODUCTION = "Production"
STAGE_ARCHIVED = "Archived"
STAGE_DELETED_INTERNAL = "Deleted_Internal"
"""MLflow's marker for a deleted version: the row stays so the number is never handed out again."""

ALL_STAGES = (STAGE_NONE, STAGE_STAGING, STAGE_PRODUCTION, STAGE_ARCHIVED)
ACTIVE_STAGES = (STAGE_STAGING, STAGE_PRODUCTION)
"""The stages ``archive_existing_versions`` may be used with (MLflow's
``DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS``)."""

_CANONICAL = {stage.lower(): stage for stage in ALL_STAGES}

STATUS_READY = "READY"
IS_PROMPT_TAG = "mlflow.prompt.is_prompt"


def canonical_stage(stage: str) -> str:
    """``"production"`` -> ``"Production"``; anything else is MLflow's INVALID_PARAMETER_VALUE."""
    found = _CANONICAL.get(stage.lower())
    if found is None:
        raise RegistryError("INVALID_PARAMETER_VALUE", invalid_stage(stage))
    return found


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModelVersion(_Frozen):
    """One version of a registered model. Its name is the model's; its aliases are the model's
    aliases that point at it."""

    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    user_id: str | None = None
    description: str | None = None
    current_stage: str = STAGE_NONE
    source: str
    run_id: str | None = None
    run_link: str | None = None
    model_id: str | None = None
    status: str = STATUS_READY
    tags: dict[str, str] = {}

    @property
    def deleted(self) -> bool:
        return self.current_stage == STAGE_DELETED_INTERNAL


class RegisteredModel(_Frozen):
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    user_id: str | None = None
    description: str | None = None
    tags: dict[str, str] = {}
    aliases: dict[str, int] = {}
    """alias -> version number; always a live version."""
    versions: dict[int, ModelVersion] = {}
    """Every version ever created in this model's life, deleted ones included."""
    last_version: int = 0
    """The highest number handed out; the next version is ``last_version + 1``."""

    def live_version(self, number: int) -> ModelVersion | None:
        found = self.versions.get(number)
        return None if found is None or found.deleted else found

    def aliases_of(self, number: int) -> list[str]:
        """The aliases pointing at a version, sorted."""
        return sorted(alias for alias, target in self.aliases.items() if target == number)

    @property
    def is_prompt(self) -> bool:
        return self.tags.get(IS_PROMPT_TAG, "false").lower() == "true"


class RegistryState(_Frozen):
    models: dict[str, RegisteredModel] = {}


EMPTY = RegistryState()


def latest_versions(model: RegisteredModel) -> list[ModelVersion]:
    """The highest live version in each stage, as MLflow's ``RegisteredModel.latest_versions``:
    stages in the order they first appear walking the versions upwards."""
    latest: dict[str, ModelVersion] = {}
    for number in sorted(model.versions):
        version = model.versions[number]
        if not version.deleted:
            latest[version.current_stage] = version  # insertion order stays the first sighting
    return list(latest.values())
