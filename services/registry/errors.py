"""MLflow's registry errors: one place for their codes and exact texts (MLflow 3.17.2)."""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    """A registry request MLflow would refuse, with its error code and message."""

    def __init__(self, error_code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message
        self.details = details


class RegistryRejection(RegistryError):
    """An event the registry's state refuses: the fold leaves the state as it was."""


def model_not_found(name: str) -> RegistryError:
    return RegistryError("RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={name} not found")


def version_not_found(name: str, version: int | str) -> RegistryError:
    return RegistryError(
        "RESOURCE_DOES_NOT_EXIST", f"Model Version (name={name}, version={version}) not found"
    )


def alias_not_found(alias: str) -> RegistryError:
    # MLflow answers an unknown alias with 400, not 404.
    return RegistryError("INVALID_PARAMETER_VALUE", f"Registered model alias {alias} not found.")


def latest_not_found(name: str) -> RegistryError:
    return RegistryError("RESOURCE_DOES_NOT_EXIST", f"Latest version not found for model {name}.")


def invalid_stage(stage: str) -> str:
    return (
        f"Invalid Model Version stage: {stage}. "
        "Value must be one of None, Staging, Production, Archived."
    )


def already_exists(name: str, *, existing_is_prompt: bool, new_is_prompt: bool) -> str:
    """MLflow's ``handle_resource_already_exist_error``: a prompt and a model may not share a
    name, and the message says which one holds it."""
    old_entity = "Prompt" if existing_is_prompt else "Registered Model"
    new_entity = "Prompt" if new_is_prompt else "Registered Model"
    if old_entity != new_entity:
        return (
            f"Tried to create a {new_entity.lower()} with name {name!r}, but the name is "
            f"already taken by a {old_entity.lower()}. MLflow does not allow creating a "
            "model and a prompt with the same name."
        )
    return f"{new_entity} (name={name}) already exists."


def cannot_archive(stage: str) -> str:
    # MLflow raises this without an error code, which makes it a 500 INTERNAL_ERROR.
    return (
        "Model version transition cannot archive existing model versions because "
        f"'{stage}' is not an Active stage. Valid stages are ['Staging', 'Production']"
    )
