"""Request schemas of MLflow's endpoints: fields from MLflow's protos, checks from its handlers."""

from __future__ import annotations

from services.gateway.requests import (
    BOOL,
    DOUBLE,
    INT32,
    INT64,
    STRING,
    Check,
    CheckFailed,
    Kind,
    RequestSchema,
    at_most,
    enum,
    is_array,
    is_bool,
    is_floatlike,
    is_intlike,
    is_string,
    items_are_strings,
    items_require,
    message,
    repeated,
    required,
)

VIEW_TYPE = enum({"ACTIVE_ONLY": 1, "DELETED_ONLY": 2, "ALL": 3})
RUN_STATUS = enum({"RUNNING": 1, "SCHEDULED": 2, "FINISHED": 3, "FAILED": 4, "KILLED": 5})
TAG = message({"key": STRING, "value": STRING})
PARAM = message({"key": STRING, "value": STRING})
METRIC = message(
    {
        "key": STRING,
        "value": DOUBLE,
        "timestamp": INT64,
        "step": INT64,  # proto default 0
        "dataset_name": STRING,
        "dataset_digest": STRING,
        "model_id": STRING,
        "run_id": STRING,
    }
)
DATASET_INPUT = message(
    {
        "tags": repeated(TAG),
        "dataset": message(
            {
                "name": STRING,
                "digest": STRING,
                "source_type": STRING,
                "source": STRING,
                "schema": STRING,
                "profile": STRING,
            }
        ),
    }
)

LOG_METRIC = RequestSchema(
    fields={
        "run_id": STRING,
        "run_uuid": STRING,
        "key": STRING,
        "value": DOUBLE,
        "timestamp": INT64,
        "step": INT64,
        "model_id": STRING,
        "dataset_name": STRING,
        "dataset_digest": STRING,
    },
    checks={
        "run_id": [required, is_string],
        "key": [required, is_string],
        "value": [required, is_floatlike],
        "timestamp": [is_intlike, required],
        "step": [is_intlike],
        "model_id": [is_string],
        "dataset_name": [is_string],
        "dataset_digest": [is_string],
    },
)

LOG_PARAM = RequestSchema(
    fields={"run_id": STRING, "run_uuid": STRING, "key": STRING, "value": STRING},
    checks={"run_id": [required, is_string], "key": [required, is_string], "value": [is_string]},
)

SET_TAG = RequestSchema(
    fields={"run_id": STRING, "run_uuid": STRING, "key": STRING, "value": STRING},
    checks={"run_id": [required, is_string], "key": [required, is_string], "value": [is_string]},
)

LOG_BATCH = RequestSchema(
    fields={
        "run_id": STRING,
        "metrics": repeated(METRIC),
        "params": repeated(PARAM),
        "tags": repeated(TAG),
    },
    checks={
        "run_id": [is_string, required],
        "metrics": [is_array, items_require("key", "value", "timestamp")],
        "params": [is_array, items_require("key")],
        "tags": [is_array, items_require("key")],
    },
)

LOG_INPUTS = RequestSchema(
    fields={
        "run_id": STRING,
        "datasets": repeated(DATASET_INPUT),
        "models": repeated(message({"model_id": STRING})),
    },
    checks={"run_id": [required, is_string], "datasets": [is_array], "models": [is_array]},
)

CREATE_RUN = RequestSchema(
    fields={
        "experiment_id": STRING,
        "user_id": STRING,
        "run_name": STRING,
        "start_time": INT64,
        "tags": repeated(TAG),
    },
    checks={"experiment_id": [is_string], "start_time": [is_intlike], "run_name": [is_string]},
)

GET_RUN = RequestSchema(
    fields={"run_id": STRING, "run_uuid": STRING},
    checks={"run_id": [required, is_string]},
)

SEARCH_RUNS = RequestSchema(
    fields={
        "experiment_ids": repeated(STRING),
        "filter": STRING,
        "run_view_type": VIEW_TYPE,  # proto default ACTIVE_ONLY
        "max_results": INT32,  # proto default 1000
        "order_by": repeated(STRING),
        "page_token": STRING,
    },
    checks={
        "experiment_ids": [is_array],
        "filter": [is_string],
        "max_results": [is_intlike, at_most(50000)],
        "order_by": [is_array, items_are_strings],
    },
)

GET_METRIC_HISTORY = RequestSchema(
    fields={
        "run_id": STRING,
        "run_uuid": STRING,
        "metric_key": STRING,
        "page_token": STRING,
        "max_results": INT32,  # no default: absent means "all" (see validate_metric_history_...)
    },
    checks={
        "run_id": [is_string, required],
        "metric_key": [is_string, required],
        "page_token": [is_string],
    },
)


EXPERIMENT_ID_ONLY = RequestSchema(
    fields={"experiment_id": STRING},
    checks={"experiment_id": [required, is_string]},
)
GET_EXPERIMENT = EXPERIMENT_ID_ONLY
DELETE_EXPERIMENT = EXPERIMENT_ID_ONLY
RESTORE_EXPERIMENT = EXPERIMENT_ID_ONLY

CREATE_EXPERIMENT = RequestSchema(
    fields={"name": STRING, "artifact_location": STRING, "tags": repeated(TAG)},
    checks={
        "name": [required, is_string],
        "artifact_location": [is_string],
        "tags": [is_array],
    },
)

GET_EXPERIMENT_BY_NAME = RequestSchema(
    fields={"experiment_name": STRING},
    checks={"experiment_name": [required, is_string]},
)

SEARCH_EXPERIMENTS = RequestSchema(
    fields={
        "max_results": INT64,
        "page_token": STRING,
        "filter": STRING,
        "order_by": repeated(STRING),
        "view_type": VIEW_TYPE,
    },
    checks={
        "view_type": [is_intlike],
        "max_results": [is_intlike],
        "order_by": [is_array],
        "filter": [is_string],
        "page_token": [is_string],
    },
)

UPDATE_EXPERIMENT = RequestSchema(
    fields={"experiment_id": STRING, "new_name": STRING},
    checks={"experiment_id": [required, is_string], "new_name": [is_string, required]},
)

SET_EXPERIMENT_TAG = RequestSchema(
    fields={"experiment_id": STRING, "key": STRING, "value": STRING},
    checks={
        "experiment_id": [required, is_string],
        "key": [required, is_string],
        "value": [is_string],
    },
)

DELETE_EXPERIMENT_TAG = RequestSchema(
    fields={"experiment_id": STRING, "key": STRING},
    checks={"experiment_id": [required, is_string], "key": [required, is_string]},
)

UPDATE_RUN = RequestSchema(
    fields={
        "run_id": STRING,
        "run_uuid": STRING,
        "status": RUN_STATUS,
        "end_time": INT64,
        "run_name": STRING,
    },
    checks={
        "run_id": [required, is_string],
        "end_time": [is_intlike],
        "status": [is_string],
        "run_name": [is_string],
    },
)

RUN_ID_ONLY = RequestSchema(fields={"run_id": STRING}, checks={"run_id": [required, is_string]})
DELETE_RUN = RUN_ID_ONLY
RESTORE_RUN = RUN_ID_ONLY

DELETE_TAG = RequestSchema(
    fields={"run_id": STRING, "key": STRING},
    checks={"run_id": [required, is_string], "key": [required, is_string]},
)

LOG_OUTPUTS = RequestSchema(
    fields={"run_id": STRING, "models": repeated(message({"model_id": STRING, "step": INT64}))},
    checks={"run_id": [required, is_string], "models": [required, is_array]},
)

MAX_RUNS_GET_METRIC_HISTORY_BULK = 100
MAX_RESULTS_PER_RUN = 2500


def _at_most_runs(value: object, param: str) -> None:
    if isinstance(value, list) and len(value) > MAX_RUNS_GET_METRIC_HISTORY_BULK:
        raise CheckFailed(
            "GetMetricHistoryBulkInterval request must specify at most "
            f"{MAX_RUNS_GET_METRIC_HISTORY_BULK} run_ids. Received {len(value)} run_ids."
        )


def _results_per_run(value: object, param: str) -> None:
    if value is None:
        return
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise CheckFailed() from None
    if not 1 <= number <= MAX_RESULTS_PER_RUN:
        raise CheckFailed(f"max_results must be between 1 and {MAX_RESULTS_PER_RUN}.")


GET_METRIC_HISTORY_BULK_INTERVAL = RequestSchema(
    fields={
        "run_ids": repeated(STRING),
        "metric_key": STRING,
        "start_step": INT32,
        "end_step": INT32,
        "max_results": INT32,
    },
    checks={
        "run_ids": [required, is_array, items_are_strings, _at_most_runs],
        "metric_key": [required, is_string],
        "start_step": [is_intlike],
        "end_step": [is_intlike],
        "max_results": [is_intlike, _results_per_run],
    },
)

LOGGED_MODEL_STATUS = enum(
    {
        "LOGGED_MODEL_STATUS_UNSPECIFIED": 0,
        "LOGGED_MODEL_PENDING": 1,
        "LOGGED_MODEL_READY": 2,
        "LOGGED_MODEL_UPLOAD_FAILED": 3,
    }
)

CREATE_LOGGED_MODEL = RequestSchema(
    fields={
        "experiment_id": STRING,
        "name": STRING,
        "model_type": STRING,
        "source_run_id": STRING,
        "params": repeated(PARAM),
        "tags": repeated(TAG),
    },
    checks={
        "experiment_id": [is_string, required],
        "name": [is_string],
        "model_type": [is_string],
        "source_run_id": [is_string],
        "params": [is_array],
        "tags": [is_array],
    },
)

FINALIZE_LOGGED_MODEL = RequestSchema(
    fields={"model_id": STRING, "status": LOGGED_MODEL_STATUS},
    checks={"model_id": [is_string, required], "status": [is_intlike, required]},
)

SET_LOGGED_MODEL_TAGS = RequestSchema(
    fields={"model_id": STRING, "tags": repeated(TAG)},
    checks={"tags": [is_array]},
)

LOG_LOGGED_MODEL_PARAMS = RequestSchema(
    fields={"model_id": STRING, "params": repeated(PARAM)},
    checks={"model_id": [is_string, required], "params": [is_array]},
)

SEARCH_LOGGED_MODELS = RequestSchema(
    fields={
        "experiment_ids": repeated(STRING),
        "filter": STRING,
        "datasets": repeated(message({"dataset_name": STRING, "dataset_digest": STRING})),
        "max_results": INT32,
        "order_by": repeated(
            message(
                {
                    "field_name": STRING,
                    "ascending": BOOL,
                    "dataset_name": STRING,
                    "dataset_digest": STRING,
                }
            )
        ),
        "page_token": STRING,
    },
    checks={
        "experiment_ids": [is_array, items_are_strings, required],
        "filter": [is_string],
        "datasets": [is_array],
        "max_results": [is_intlike],
        "order_by": [is_array],
        "page_token": [is_string],
    },
)


# ---- model registry (mlflow/protos/model_registry.proto) ----


def _registry(fields: dict[str, Kind], required_fields: tuple[str, ...]) -> RequestSchema:
    """Registry handlers check `[_assert_string, _assert_required]` on their key fields and
    `_assert_string` (or the array checks) on the rest."""
    checks: dict[str, list[Check]] = {}
    for name, kind in fields.items():
        if name in required_fields:
            checks[name] = [is_string, required]
        elif kind is STRING:
            checks[name] = [is_string]
    return RequestSchema(fields=fields, checks=checks)


CREATE_REGISTERED_MODEL = RequestSchema(
    fields={
        "name": STRING,
        "tags": repeated(TAG),
        "description": STRING,
        "deployment_job_id": STRING,
    },
    checks={"name": [is_string, required], "tags": [is_array], "description": [is_string]},
)
GET_REGISTERED_MODEL = _registry({"name": STRING}, ("name",))
DELETE_REGISTERED_MODEL = GET_REGISTERED_MODEL
RENAME_REGISTERED_MODEL = _registry({"name": STRING, "new_name": STRING}, ("name", "new_name"))
UPDATE_REGISTERED_MODEL = _registry(
    {"name": STRING, "description": STRING, "deployment_job_id": STRING}, ("name",)
)
SEARCH_REGISTERED_MODELS = RequestSchema(
    fields={
        "filter": STRING,
        "max_results": INT64,
        "order_by": repeated(STRING),
        "page_token": STRING,
    },
    checks={
        "filter": [is_string],
        "max_results": [is_intlike, at_most(1000)],
        "order_by": [is_array, items_are_strings],
        "page_token": [is_string],
    },
)
GET_LATEST_VERSIONS = RequestSchema(
    fields={"name": STRING, "stages": repeated(STRING)},
    checks={"name": [is_string, required], "stages": [is_array, items_are_strings]},
)
CREATE_MODEL_VERSION = RequestSchema(
    fields={
        "name": STRING,
        "source": STRING,
        "run_id": STRING,
        "tags": repeated(TAG),
        "run_link": STRING,
        "description": STRING,
        "model_id": STRING,
    },
    checks={
        "name": [is_string, required],
        "source": [is_string, required],
        "run_id": [is_string],
        "tags": [is_array],
        "run_link": [is_string],
        "description": [is_string],
        "model_id": [is_string],
    },
)
MODEL_VERSION = _registry({"name": STRING, "version": STRING}, ("name", "version"))
GET_MODEL_VERSION = MODEL_VERSION
DELETE_MODEL_VERSION = MODEL_VERSION
GET_MODEL_VERSION_DOWNLOAD_URI = RequestSchema(
    fields={"name": STRING, "version": STRING}, checks={}
)
UPDATE_MODEL_VERSION = _registry(
    {"name": STRING, "version": STRING, "description": STRING}, ("name", "version")
)
TRANSITION_STAGE = RequestSchema(
    fields={
        "name": STRING,
        "version": STRING,
        "stage": STRING,
        "archive_existing_versions": BOOL,
    },
    checks={
        "name": [is_string, required],
        "version": [is_string, required],
        "stage": [is_string, required],
        "archive_existing_versions": [is_bool],
    },
)
SEARCH_MODEL_VERSIONS = RequestSchema(
    fields={
        "filter": STRING,
        "max_results": INT64,
        "order_by": repeated(STRING),
        "page_token": STRING,
    },
    checks={
        "filter": [is_string],
        "max_results": [is_intlike, at_most(200_000)],
        "order_by": [is_array, items_are_strings],
        "page_token": [is_string],
    },
)
SET_REGISTERED_MODEL_TAG = _registry(
    {"name": STRING, "key": STRING, "value": STRING}, ("name", "key")
)
DELETE_REGISTERED_MODEL_TAG = _registry({"name": STRING, "key": STRING}, ("name", "key"))
SET_MODEL_VERSION_TAG = _registry(
    {"name": STRING, "version": STRING, "key": STRING, "value": STRING},
    ("name", "version", "key"),
)
DELETE_MODEL_VERSION_TAG = _registry(
    {"name": STRING, "version": STRING, "key": STRING}, ("name", "version", "key")
)
SET_ALIAS = _registry(
    {"name": STRING, "alias": STRING, "version": STRING}, ("name", "alias", "version")
)
ALIAS = _registry({"name": STRING, "alias": STRING}, ("name", "alias"))
