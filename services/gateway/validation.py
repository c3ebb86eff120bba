"""MLflow's value validation (names, lengths, batches, registry names), with its exact messages.

A re-implementation of `mlflow/utils/validation.py` (MLflow 3.17.2) and the few checks its
stores and handlers add (`max_results`), for plain Python values: every function raises
`MlflowError("INVALID_PARAMETER_VALUE", message)` or returns the value, truncated where MLflow
truncates. Paths such as `metrics[0].name` and `tags[1].value` are MLflow's.
"""

from __future__ import annotations

import json
import logging
import numbers
import os
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from services.gateway.errors import MlflowError

_logger = logging.getLogger(__name__)


def _env_flag(name: str, default: bool) -> bool:
    """Read a boolean the way MLflow's `_BooleanEnvironmentVariable` does."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false", "1", "0"):
        raise ValueError(
            f"{name} value must be one of ['true', 'false', '1', '0'] (case-insensitive), "
            f"but got {raw}"
        )
    return raw.lower() in ("true", "1")


TRUNCATE_LONG_VALUES: bool = _env_flag("MLFLOW_TRUNCATE_LONG_VALUES", True)
"""Truncate over-long param and run-tag values instead of rejecting them (MLflow's default)."""

ARTIFACT_LOCATION_MAX_LENGTH: int = int(os.environ.get("MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH", 2048))
"""Longest experiment artifact location accepted (`MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH`)."""

MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_KEY_LENGTH = 250
MAX_EXPERIMENT_TAG_VAL_LENGTH = 20000
MAX_ENTITY_KEY_LENGTH = 250
MAX_MODEL_REGISTRY_TAG_KEY_LENGTH = 250
MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH = 100_000
MAX_DATASET_NAME_SIZE = 500
MAX_DATASET_DIGEST_SIZE = 36
MAX_DATASET_SCHEMA_SIZE = 1048575
MAX_DATASET_SOURCE_SIZE = 65535
MAX_DATASET_PROFILE_SIZE = 16777215
MAX_INPUT_TAG_KEY_SIZE = 255
MAX_INPUT_TAG_VALUE_SIZE = 500
MAX_REGISTERED_MODEL_ALIAS_LENGTH = 255
SEARCH_MAX_RESULTS_THRESHOLD = 50000
SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD = 1000
SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD = 200_000
PROMPT_TEXT_TAG_KEY = "mlflow.prompt.text"
TRACE_ARCHIVAL_RETENTION_TAG = "mlflow.trace.archivalRetention"
TRACE_ARCHIVE_NOW_TAG = "mlflow.trace.archiveNow"

_RUN_ID_REGEX = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
_EXPERIMENT_ID_REGEX = re.compile(r"^[a-zA-Z0-9][\w\-]{0,63}$")
_ALIAS_REGEX = re.compile(r"^[\w\-]*$")
_ALIAS_VERSION_REGEX = re.compile(r"^[vV]\d+$")
# MLflow on Linux; its Windows variant leaves out the colon. `re.match` with `$` also accepts
# one trailing newline, exactly as MLflow's check does.
_NAME_REGEX = re.compile(r"^[/\w.\- :]*$")
_RETENTION_REGEX = re.compile(r"^[1-9][0-9]*[mhd]$")
_MAX_RETENTION_LENGTH = 32

_MISSING_KEY_NAME_MESSAGE = "A key name must be provided."
_BAD_CHARACTER_MESSAGE = (
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.),"
    " spaces ( ), colon(:) and slashes (/)."
)
_BAD_ALIAS_CHARACTERS_MESSAGE = (
    "Names may only contain alphanumerics, underscores (_), and dashes (-)."
)
_LOGGED_MODEL_BAD_CHARS = ("/", ":", ".", "%", '"', "'")


# ---- message builders (mlflow.utils.validation) ----


def invalid_value(path: str, value: Any, message: str | None = None) -> str:
    """MLflow's `invalid_value`: the value is shown as compact, key-sorted JSON."""
    formatted = json.dumps(value, sort_keys=True, separators=(",", ":"))
    if message:
        return f"Invalid value {formatted} for parameter '{path}' supplied: {message}"
    return f"Invalid value {formatted} for parameter '{path}' supplied."


def missing_value(path: str) -> str:
    """MLflow's `missing_value` message."""
    return f"Missing value for required parameter '{path}'."


def exceeds_maximum_length(path: str, limit: int) -> str:
    """MLflow's `exceeds_maximum_length` message."""
    return f"'{path}' exceeds the maximum length of {limit} characters"


def bad_path_message(name: str) -> str:
    """Why a name that would resolve to another path is refused."""
    return (
        "Names may be treated as files in certain cases, and must not resolve to other names"
        f" when treated as such. This name would resolve to {posixpath.normpath(name)!r}"
    )


def _invalid(message: str) -> MlflowError:
    return MlflowError("INVALID_PARAMETER_VALUE", message)


# ---- keys: metric, param and tag names ----


def path_not_unique(name: str) -> bool:
    """True when `name`, read as a path, resolves to something else (`a/../b`, `/x`, `.`)."""
    norm = posixpath.normpath(name)
    return norm != str(name) or norm == "." or norm.startswith("..") or norm.startswith("/")


@lru_cache(maxsize=8192)
def _name_problem(name: str) -> str | None:
    # Batches repeat the same few keys; caching the verdict keeps a 1000-metric batch cheap.
    if not _NAME_REGEX.match(name):
        return "characters"
    if path_not_unique(name):
        return "path"
    return None


def _check_name_shape(name: str, path: str) -> None:
    problem = _name_problem(name)
    if problem == "characters":
        raise _invalid(invalid_value(path, name, _BAD_CHARACTER_MESSAGE))
    if problem == "path":
        raise _invalid(invalid_value(path, name, bad_path_message(name)))


def validate_metric_name(name: str | None, path: str = "name") -> None:
    """MLflow's `_validate_metric_name`: allowed characters and path normalisation."""
    if name is None:
        raise _invalid(
            invalid_value(path, name, f"Metric name cannot be None. {_MISSING_KEY_NAME_MESSAGE}")
        )
    _check_name_shape(name, path)


def validate_param_name(name: str | None, path: str = "key") -> None:
    """MLflow's `_validate_param_name`."""
    if name is None:
        raise _invalid(invalid_value(path, "", _MISSING_KEY_NAME_MESSAGE))
    _check_name_shape(name, path)


def validate_tag_name(name: str | None, path: str = "key") -> None:
    """MLflow's `_validate_tag_name` (run, experiment, registry and trace tags)."""
    if name is None:
        raise _invalid(missing_value(path))
    _check_name_shape(name, path)


def validate_length_limit(
    entity_name: str, limit: int, value: str | None, *, truncate: bool = False
) -> str | None:
    """MLflow's `_validate_length_limit`: truncate (if allowed and enabled) or refuse."""
    if value is None or len(value) <= limit:
        return value
    if truncate and TRUNCATE_LONG_VALUES:
        _logger.warning(
            "%s '%s...' (%d characters) is truncated to %d characters to meet the length limit.",
            entity_name,
            value[:100],
            len(value),
            limit,
        )
        return value[:limit]
    raise _invalid(exceeds_maximum_length(entity_name, limit))


def _append_to_json_path(current: str, value: str) -> str:
    if not current:
        return value
    if value.startswith("["):
        return f"{current}{value}"
    return f"{current}.{value}"


def _is_numeric(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Number)


# ---- runs: metrics, params, tags, batches ----


def validate_metric(key: str, value: Any, timestamp: Any, step: Any, path: str = "") -> None:
    """MLflow's `_validate_metric`; NaN and infinities are valid values."""
    validate_metric_name(key, _append_to_json_path(path, "name"))
    if value is None:
        raise _invalid(missing_value(_append_to_json_path(path, "value")))
    if not _is_numeric(value):
        raise _invalid(
            invalid_value(
                _append_to_json_path(path, "value"),
                value,
                f"(timestamp={timestamp}). "
                "Please specify value as a valid double (64-bit floating point)",
            )
        )
    negative = isinstance(timestamp, numbers.Number) and cast(Any, timestamp) < 0
    if not isinstance(timestamp, numbers.Number) or negative:
        raise _invalid(
            invalid_value(
                _append_to_json_path(path, "timestamp"),
                timestamp,
                f"metric '{key}' (value={value}). "
                "Timestamp must be a nonnegative long (64-bit integer) ",
            )
        )
    if not isinstance(step, numbers.Number):
        raise _invalid(
            invalid_value(
                _append_to_json_path(path, "step"),
                step,
                f"metric '{key}' (value={value}). Step must be a valid long (64-bit integer).",
            )
        )
    validate_length_limit("Metric name", MAX_ENTITY_KEY_LENGTH, key)


def validate_param(key: str, value: str | None, path: str = "") -> str | None:
    """MLflow's `_validate_param`; returns the value, truncated to 6000 characters if enabled."""
    validate_param_name(key, _append_to_json_path(path, "key"))
    validate_length_limit("Param key", MAX_ENTITY_KEY_LENGTH, key)
    return validate_length_limit("Param value", MAX_PARAM_VAL_LENGTH, value, truncate=True)


def validate_tag(key: str, value: str | None, path: str = "") -> str | None:
    """MLflow's `_validate_tag` for run tags; returns the value, truncated to 8000 if enabled."""
    validate_tag_name(key, _append_to_json_path(path, "key"))
    validate_length_limit(_append_to_json_path(path, "key"), MAX_ENTITY_KEY_LENGTH, key)
    return validate_length_limit(
        _append_to_json_path(path, "value"), MAX_TAG_VAL_LENGTH, value, truncate=True
    )


def validate_run_id(run_id: str, path: str = "run_id") -> None:
    """MLflow's `_validate_run_id`: `^[a-zA-Z0-9][\\w\\-]{0,255}$`."""
    if _RUN_ID_REGEX.match(run_id) is None:
        raise _invalid(invalid_value(path, run_id))


def validate_experiment_id(experiment_id: str | None) -> None:
    """MLflow's `_validate_experiment_id`: None or `^[a-zA-Z0-9][\\w\\-]{0,63}$`."""
    if experiment_id is not None and _EXPERIMENT_ID_REGEX.match(experiment_id) is None:
        raise _invalid(f"Invalid experiment ID: '{experiment_id}'")


def _batch_limit(entity_name: str, limit: int, length: int) -> None:
    if length > limit:
        raise _invalid(
            f"A batch logging request can contain at most {limit} {entity_name}. "
            f"Got {length} {entity_name}. Please split up {entity_name} across multiple"
            " requests and try again."
        )


def validate_batch_log_limits(
    metrics: Sequence[Any], params: Sequence[Any], tags: Sequence[Any]
) -> None:
    """MLflow's `_validate_batch_log_limits`: 1000 metrics, 100 params, 100 tags, 1000 in all."""
    _batch_limit("metrics", MAX_METRICS_PER_BATCH, len(metrics))
    _batch_limit("params", MAX_PARAMS_TAGS_PER_BATCH, len(params))
    _batch_limit("tags", MAX_PARAMS_TAGS_PER_BATCH, len(tags))
    _batch_limit(
        "metrics, params, and tags",
        MAX_ENTITIES_PER_BATCH,
        len(metrics) + len(params) + len(tags),
    )


def validate_param_keys_unique(keys: Iterable[str]) -> None:
    """MLflow's `_validate_param_keys_unique`; lists a key once per repeat, in request order."""
    seen: set[str] = set()
    dupes: list[str] = []
    for key in keys:
        if key in seen:
            dupes.append(key)
        else:
            seen.add(key)
    if dupes:
        raise _invalid(
            f"Duplicate parameter keys have been submitted: {dupes}. Please ensure "
            "the request contains only one param value per param key."
        )


def _with_value(entry: Mapping[str, Any], value: Any) -> Mapping[str, Any]:
    if entry.get("value", "") is value:
        return entry
    return {**entry, "value": value}


def validate_batch_log_data(
    metrics: Sequence[Mapping[str, Any]],
    params: Sequence[Mapping[str, Any]],
    tags: Sequence[Mapping[str, Any]],
) -> tuple[Sequence[Mapping[str, Any]], list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """MLflow's `_validate_batch_log_data` on proto-shaped dicts (as `read_request` returns them).

    Absent fields take their proto defaults ("" for strings, 0 for step). Every metric is
    checked first (paths `metrics[i].name|value|timestamp|step`, length as 'Metric name'),
    then params (`params[i].key`; lengths as 'Param key' / 'Param value'), then tags
    (`tags[i].key`, `tags[i].value`). Returns the entries, params and tags with values truncated.
    """
    for index, m in enumerate(metrics):
        key, value = m.get("key", ""), m.get("value", 0.0)
        timestamp, step = m.get("timestamp", 0), m.get("step", 0)
        # Fast path for what read_request returns (exact float and int types, a known-good
        # key); anything else gets the full check and its message.
        if (
            type(value) is float
            and type(timestamp) is int
            and timestamp >= 0
            and type(step) is int
            and type(key) is str
            and len(key) <= MAX_ENTITY_KEY_LENGTH
            and _name_problem(key) is None
        ):
            continue
        validate_metric(key, value, timestamp, step, path=f"metrics[{index}]")
    checked_params = [
        _with_value(p, validate_param(p.get("key", ""), p.get("value", ""), path=f"params[{i}]"))
        for i, p in enumerate(params)
    ]
    checked_tags = [
        _with_value(t, validate_tag(t.get("key", ""), t.get("value", ""), path=f"tags[{i}]"))
        for i, t in enumerate(tags)
    ]
    return metrics, checked_params, checked_tags


@dataclass(frozen=True, slots=True)
class MetricColumns:
    """A log-batch's metrics as the columns of a metrics.logged event."""

    keys: list[str]
    values: list[float]
    timestamps: list[int]
    steps: list[int]


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # a proto int64 field's range
_CLIENT_METRIC_FIELDS = 4  # key, value, timestamp and step: what the mlflow client sends


def well_formed_metrics(metrics: Any) -> MetricColumns | None:
    """A log-batch's metrics (as decoded from its JSON) as columns, when every one is exactly
    what the mlflow client sends and passes every check `read_request` and
    `validate_batch_log_data` make: a key that is a valid metric name, a float value, an int64
    timestamp of at least 0 and an int64 step, and no other field. Checked a column at a time
    (a 1,000-point batch in a third of the time of the element-wise path).

    None when any metric is otherwise (or there are none): the batch then takes the general
    path, which finds the first error and words it as MLflow does."""
    if type(metrics) is not list or not metrics or set(map(type, metrics)) != {dict}:
        return None
    try:
        keys = [m["key"] for m in metrics]
        values = [m["value"] for m in metrics]
        timestamps = [m["timestamp"] for m in metrics]
        steps = [m["step"] for m in metrics]
    except KeyError:
        return None
    if sum(map(len, metrics)) != _CLIENT_METRIC_FIELDS * len(metrics):
        return None  # another field: an alias, a model id, an unknown name
    if (
        set(map(type, keys)) != {str}
        or set(map(type, values)) != {float}
        or set(map(type, timestamps)) != {int}
        or set(map(type, steps)) != {int}
    ):
        return None  # bool is not int here: `type`, not isinstance
    if min(timestamps) < 0 or max(timestamps) > INT64_MAX:
        return None
    if min(steps) < INT64_MIN or max(steps) > INT64_MAX:
        return None
    for key in set(keys):
        if not key or len(key) > MAX_ENTITY_KEY_LENGTH or _name_problem(key) is not None:
            return None
    return MetricColumns(keys, values, timestamps, steps)


def validate_log_batch(
    run_id: str,
    metrics: Sequence[Mapping[str, Any]],
    params: Sequence[Mapping[str, Any]],
    tags: Sequence[Mapping[str, Any]],
    *,
    columns: MetricColumns | None = None,
) -> tuple[Sequence[Mapping[str, Any]], list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """Everything MLflow's store checks for log-batch, in its order: run id, data, limits, keys.
    ``columns``: the batch's metrics, passed by `well_formed_metrics` (``metrics`` is empty)."""
    validate_run_id(run_id)
    metrics, checked_params, checked_tags = validate_batch_log_data(metrics, params, tags)
    validate_batch_log_limits(
        columns.keys if columns is not None else metrics, checked_params, checked_tags
    )
    validate_param_keys_unique(p.get("key", "") for p in checked_params)
    return metrics, checked_params, checked_tags


# ---- experiments ----


def validate_experiment_name(name: Any) -> None:
    """MLflow's `_validate_experiment_name`: a non-empty string of at most 500 characters."""
    if name == "" or name is None:
        raise _invalid(f"Invalid experiment name: '{name}'")
    if not isinstance(name, str):
        raise _invalid(f"Invalid experiment name: {name}. Expects a string.")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise _invalid(exceeds_maximum_length("name", MAX_EXPERIMENT_NAME_LENGTH))


def validate_experiment_tag(key: str, value: str | None) -> None:
    """MLflow's `_validate_experiment_tag`: key 250, value 20000 (never truncated)."""
    validate_tag_name(key)
    validate_length_limit("key", MAX_EXPERIMENT_TAG_KEY_LENGTH, key)
    validate_length_limit("value", MAX_EXPERIMENT_TAG_VAL_LENGTH, value)
    if key == TRACE_ARCHIVAL_RETENTION_TAG:
        _validate_trace_archival_config(value, "value", expected_type="duration")
    elif key == TRACE_ARCHIVE_NOW_TAG:
        _validate_trace_archival_config(value, "older_than", allow_missing=True)


def _validate_trace_archival_config(
    value: str | None,
    duration_key: str,
    expected_type: str | None = None,
    allow_missing: bool = False,
) -> None:
    # MLflow's `_parse_trace_archival_duration_config` for the two trace-archival tags.
    if value is None:
        return
    not_object = "Trace archival config must be encoded as a JSON object."
    try:
        payload = json.loads(value)
    except Exception as err:
        raise _invalid(not_object) from err
    if not isinstance(payload, dict):
        raise _invalid(not_object)
    if expected_type is not None and payload.get("type") != expected_type:
        raise _invalid(f"Trace archival config must use type '{expected_type}'.")
    duration = payload.get(duration_key)
    if duration is None and allow_missing:
        return
    bad_form = (
        "Trace archival retention must be in the form `<int><unit>`, "
        "where unit is one of 'm', 'h', or 'd'."
    )
    if not isinstance(duration, str):
        raise _invalid(bad_form)
    trimmed = duration.strip()
    if len(trimmed) > _MAX_RETENTION_LENGTH:
        raise _invalid("Trace archival duration must be at most 32 characters.")
    if _RETENTION_REGEX.fullmatch(trimmed) is None:
        raise _invalid(bad_form)


def validate_experiment_artifact_location(location: str | None) -> None:
    """MLflow's `_validate_experiment_artifact_location`: no `runs:` URIs."""
    if location is not None and location.startswith("runs:"):
        raise _invalid(f"Artifact location cannot be a runs:/ URI. Given: '{location}'")


def validate_experiment_artifact_location_length(location: str) -> None:
    """MLflow's `_validate_experiment_artifact_location_length` (2048 unless configured)."""
    max_length = ARTIFACT_LOCATION_MAX_LENGTH
    if len(location) > max_length:
        raise _invalid(
            "Invalid artifact path length. The length of the artifact path cannot be "
            f"greater than {max_length} characters. To configure this limit, please set the "
            "MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH environment variable."
        )


# ---- run inputs: datasets and their tags ----


def validate_dataset(
    name: str | None,
    digest: str | None,
    source_type: str | None,
    source: str | None,
    schema: str | None = None,
    profile: str | None = None,
) -> None:
    """MLflow's `_validate_dataset`: required fields and the 500/36/65535/1MiB/16MiB limits."""
    if name is None:
        raise _invalid("Dataset name cannot be None")
    if digest is None:
        raise _invalid("Dataset digest cannot be None")
    if source_type is None:
        raise _invalid("Dataset source_type cannot be None")
    if source is None:
        raise _invalid("Dataset source cannot be None")
    for field, text, limit in (
        ("name", name, MAX_DATASET_NAME_SIZE),
        ("digest", digest, MAX_DATASET_DIGEST_SIZE),
        ("source", source, MAX_DATASET_SOURCE_SIZE),
        ("schema", schema, MAX_DATASET_SCHEMA_SIZE),
        ("profile", profile, MAX_DATASET_PROFILE_SIZE),
    ):
        if text is not None and len(text) > limit:
            raise _invalid(exceeds_maximum_length(field, limit))


def validate_input_tag(key: str | None, value: str | None) -> None:
    """MLflow's `_validate_input_tag`: key 255, value 500 characters."""
    if key is None:
        raise _invalid("InputTag key cannot be None")
    if value is None:
        raise _invalid("InputTag value cannot be None")
    if len(key) > MAX_INPUT_TAG_KEY_SIZE:
        raise _invalid(exceeds_maximum_length("key", MAX_INPUT_TAG_KEY_SIZE))
    if len(value) > MAX_INPUT_TAG_VALUE_SIZE:
        raise _invalid(exceeds_maximum_length("value", MAX_INPUT_TAG_VALUE_SIZE))


def validate_dataset_inputs(dataset_inputs: Sequence[Mapping[str, Any]]) -> None:
    """MLflow's `_validate_dataset_inputs` on `{dataset: {...}, tags: [...]}` dicts.

    As on MLflow's REST path (`DatasetInput.from_proto`), absent name/digest/source_type/source
    read as "" and absent schema/profile as None; each input's dataset is checked, then its tags.
    """
    for dataset_input in dataset_inputs:
        d = dataset_input.get("dataset", {})
        validate_dataset(
            d.get("name", ""),
            d.get("digest", ""),
            d.get("source_type", ""),
            d.get("source", ""),
            d.get("schema"),
            d.get("profile"),
        )
        for tag in dataset_input.get("tags", ()):
            validate_input_tag(tag.get("key", ""), tag.get("value", ""))


# ---- model registry and logged models ----


def validate_model_name(name: str | None) -> None:
    """MLflow's `_validate_model_name` for registered models: no '/' or ':', no path tricks."""
    if name is None or name.strip() == "":
        raise _invalid(missing_value("name"))
    if "/" in name or ":" in name:
        raise _invalid(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    if path_not_unique(name):
        raise _invalid(invalid_value("name", name, bad_path_message(name)))


def validate_model_renaming(new_name: str | None) -> None:
    """MLflow's `_validate_model_renaming`."""
    if new_name is None or str(new_name).strip() == "":
        raise _invalid(missing_value("new_name"))
    validate_model_name(new_name)


def validate_model_version(version: Any) -> int:
    """MLflow's `_validate_model_version`: the version as an int."""
    try:
        return int(version)
    except (TypeError, ValueError):
        raise _invalid(f"Parameter 'version' must be an integer, got '{version}'.") from None


def validate_registered_model_tag(key: str, value: str | None) -> None:
    """MLflow's `_validate_registered_model_tag`: key 250, value 100000."""
    validate_tag_name(key)
    validate_length_limit("key", MAX_MODEL_REGISTRY_TAG_KEY_LENGTH, key)
    validate_length_limit("value", MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH, value)


def validate_model_version_tag(key: str, value: str | None) -> None:
    """MLflow's `_validate_model_version_tag`: as registered-model tags, but value required."""
    validate_tag_name(key)
    if value is None:
        raise _invalid("Tag value cannot be None")
    validate_length_limit("key", MAX_MODEL_REGISTRY_TAG_KEY_LENGTH, key)
    if key == PROMPT_TEXT_TAG_KEY and len(value) > MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH:
        raise _invalid(
            f"Prompt text exceeds max length of {MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH} characters."
        )
    validate_length_limit("value", MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH, value)


def validate_model_alias_name(alias: str | None) -> None:
    """MLflow's `_validate_model_alias_name`: `[\\w-]*`, at most 255 characters."""
    if alias is None or alias == "":
        raise _invalid("Registered model alias name cannot be empty.")
    if not _ALIAS_REGEX.match(alias):
        raise _invalid(f"Invalid alias name: '{alias}'. {_BAD_ALIAS_CHARACTERS_MESSAGE}")
    validate_length_limit("Registered model alias name", MAX_REGISTERED_MODEL_ALIAS_LENGTH, alias)


def validate_model_alias_name_reserved(alias: str) -> None:
    """MLflow's `_validate_model_alias_name_reserved`: `latest` and `v<digits>` are reserved."""
    if alias.lower() == "latest":
        raise _invalid("'latest' alias name (case insensitive) is reserved.")
    if _ALIAS_VERSION_REGEX.match(alias):
        raise _invalid(f"Version alias name '{alias}' is reserved.")


def validate_logged_model_name(name: str | None) -> None:
    """MLflow's `_validate_logged_model_name`: None is allowed; no / : . % \" '."""
    if name is None:
        return
    if not name or any(c in name for c in _LOGGED_MODEL_BAD_CHARS):
        raise _invalid(
            f"Invalid model name ({name!r}) provided. Model name must be a non-empty string "
            f"and cannot contain the following characters: {_LOGGED_MODEL_BAD_CHARS}"
        )


# ---- search page sizes ----


def validate_search_max_results(max_results: int | None, *, allow_null: bool = False) -> None:
    """The tracking store's `_validate_max_results_param` (search runs: allow_null=True)."""
    if (not allow_null and max_results is None) or (max_results is not None and max_results < 1):
        raise _invalid(
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be "
            "a positive integer"
        )
    if max_results is not None and max_results > SEARCH_MAX_RESULTS_THRESHOLD:
        raise _invalid(
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be at "
            f"most {SEARCH_MAX_RESULTS_THRESHOLD}"
        )


def validate_metric_history_max_results(max_results: int | None) -> None:
    """The get-metric-history handler's check: when given, max_results must be positive."""
    if max_results is not None and max_results <= 0:
        raise _invalid(
            f"Invalid value {max_results} for parameter 'max_results' supplied. "
            "It must be a positive integer."
        )


def validate_registered_model_search_max_results(max_results: int) -> None:
    """The registry store's bound for search-registered-models (at most 1000)."""
    if max_results > SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD:
        raise _invalid(
            "Invalid value for request parameter max_results. It must be at most "
            f"{SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD}, but got value {max_results}"
        )


def validate_model_version_search_max_results(max_results: Any) -> None:
    """The registry store's bounds for search-model-versions (1 to 200000)."""
    if not isinstance(max_results, int) or max_results < 1:
        raise _invalid(
            f"Invalid value for max_results. It must be a positive integer, but got {max_results}"
        )
    if max_results > SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD:
        raise _invalid(
            "Invalid value for request parameter max_results. It must be at most "
            f"{SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD}, but got value {max_results}"
        )
