"""What one client process does in each workload, through the real mlflow client (or the native
SDK, or the client's requests over plain HTTP). Each function sets up untimed, calls `ready()`,
then measures until its count or deadline is reached, and returns its raw latencies (seconds)
and what it wrote.

Metric values equal their step, so a run's latest value of a key (max of step, timestamp, value)
is its last step: the parent can tell from one `get_run` whether a run's last point is
queryable.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

Ready = Callable[[], None]


def _client(url: str) -> Any:
    from mlflow import MlflowClient
    from mlflow.utils import request_utils

    # Fresh connections for every task. The pool's processes outlive the phases, and mlflow keeps
    # one HTTP session per process: a connection left idle since an earlier phase can be closed
    # by the server (uvicorn's keep-alive is 5 s) just as it is reused, and with retries off that
    # is a failed request (seen once, against mlflow-sqlite-w1, in the CI smoke run).
    request_utils._cached_get_request_session.cache_clear()
    return MlflowClient(tracking_uri=url)


def _error(err: Exception) -> str:
    """A failed request as recorded: its start and its end, where requests puts the cause."""
    text = repr(err)
    return text if len(text) <= 400 else f"{text[:200]} ... {text[-200:]}"


def _done(cpu_start: float) -> dict[str, float]:
    """When the measured part ended, and the CPU seconds this client process spent in it."""
    return {"end": time.monotonic(), "client_cpu_s": time.process_time() - cpu_start}


def _keys(count: int) -> list[str]:
    return [f"m{k}" for k in range(count)]


def log_batch(args: dict[str, Any], ready: Ready) -> dict[str, Any]:
    from mlflow.entities import Metric

    client = _client(args["url"])
    run_id = client.create_run(args["experiment_id"], run_name=f"ingest-{uuid.uuid4().hex[:6]}")
    run_id = run_id.info.run_id
    keys = _keys(args["keys"])
    steps_per_batch = args["batch_points"] // len(keys)
    now = int(time.time() * 1000)
    latencies: list[float] = []
    errors: list[str] = []
    last_step = -1
    ready()
    cpu = time.process_time()
    deadline = time.monotonic() + args["seconds"]
    for b in range(args["max_batches"]):
        if time.monotonic() >= deadline:
            break
        steps = range(b * steps_per_batch, (b + 1) * steps_per_batch)
        batch = [Metric(key, float(step), now, step) for step in steps for key in keys]
        started = time.monotonic()
        try:
            client.log_batch(run_id, metrics=batch)
        except Exception as err:
            errors.append(_error(err))
            continue
        latencies.append(time.monotonic() - started)
        last_step = max(last_step, steps[-1])
    return {
        "run_id": run_id,
        "keys": keys,
        "points": len(latencies) * steps_per_batch * len(keys),
        "steps": len(latencies) * steps_per_batch,
        "last_step": last_step,
        "latencies": latencies,
        "errors": errors,
        **_done(cpu),
    }


def _measure(
    ready: Ready,
    count: int,
    seconds: float,
    call: Callable[[int], Any],
    check: Callable[[Any], str | None] | None = None,
) -> dict[str, Any]:
    """After ``ready()``, call ``call(i)`` up to ``count`` times or until ``seconds`` have
    passed: the latency of each call that succeeded, the errors (an exception, or what
    ``check`` found wrong), and the client's CPU (``_done``)."""
    latencies: list[float] = []
    errors: list[str] = []
    ready()
    cpu = time.process_time()
    deadline = time.monotonic() + seconds
    for i in range(count):
        if time.monotonic() >= deadline:
            break
        started = time.monotonic()
        try:
            result = call(i)
        except Exception as err:
            errors.append(_error(err))
            continue
        latencies.append(time.monotonic() - started)
        problem = check(result) if check else None
        if problem:
            errors.append(problem)
    return {"latencies": latencies, "errors": errors, **_done(cpu)}


def _count_is(expected: int, what: str) -> Callable[[Any], str | None]:
    return lambda found: (
        None if len(found) == expected else f"{len(found)} {what}, expected {expected}"
    )


def log_metric(args: dict[str, Any], ready: Ready) -> dict[str, Any]:
    client = _client(args["url"])
    run_id = client.create_run(args["experiment_id"]).info.run_id
    measured = _measure(
        ready,
        args["max_calls"],
        args["seconds"],
        lambda step: client.log_metric(run_id, "loss", float(step), step=step),
    )
    return {"run_id": run_id, **measured}


def get_metric_history(args: dict[str, Any], ready: Ready) -> dict[str, Any]:
    client = _client(args["url"])
    return _measure(
        ready,
        args["max_requests"],
        args["seconds"],
        lambda _: client.get_metric_history(args["run_id"], args["key"]),
        _count_is(args["expected"], "points"),
    )


def search_runs(args: dict[str, Any], ready: Ready) -> dict[str, Any]:
    client = _client(args["url"])
    return _measure(
        ready,
        args["max_requests"],
        args["seconds"],
        lambda _: client.search_runs(
            [args["experiment_id"]],
            filter_string=args["filter"],
            order_by=args["order_by"],
            max_results=1000,
        ),
        _count_is(args["expected"], "runs"),
    )


def registry_writes(args: dict[str, Any], ready: Ready) -> dict[str, Any]:
    client = _client(args["url"])
    name = f"bench-{uuid.uuid4().hex[:10]}"
    client.create_registered_model(name)
    run = client.create_run(args["experiment_id"])
    source = f"{run.info.artifact_uri}/model"
    return _registry_rounds(
        args,
        ready,
        create=lambda: client.create_model_version(name, source, run_id=run.info.run_id).version,
        set_alias=lambda version: client.set_registered_model_alias(name, "champion", version),
        transition=lambda version: client.transition_model_version_stage(name, version, "Staging"),
    )


def _registry_rounds(
    args: dict[str, Any],
    ready: Ready,
    *,
    create: Callable[[], Any],
    set_alias: Callable[[Any], Any],
    transition: Callable[[Any], Any],
) -> dict[str, Any]:
    """Rounds of create version (returns it), set alias, transition stage, each timed, up to
    ``max_rounds`` or ``seconds``; a round stops at its first failure."""
    latencies: dict[str, list[float]] = {"create_version": [], "set_alias": [], "transition": []}
    errors: list[str] = []
    ready()
    cpu = time.process_time()
    deadline = time.monotonic() + args["seconds"]
    for _ in range(args["max_rounds"]):
        if time.monotonic() >= deadline:
            break
        try:
            started = time.monotonic()
            version = create()
            latencies["create_version"].append(time.monotonic() - started)
            started = time.monotonic()
            set_alias(version)
            latencies["set_alias"].append(time.monotonic() - started)
            started = time.monotonic()
            transition(version)
            latencies["transition"].append(time.monotonic() - started)
        except Exception as err:
            errors.append(_error(err))
    return {"latencies": latencies, "errors": errors, **_done(cpu)}


def create_search_runs(args: dict[str, Any], ready: Ready) -> dict[str, Any]:
    """Preparation (untimed): runs `args["indexes"]` of the search experiment."""
    from mlflow.entities import Metric, Param

    from bench.workloads import search_fixture

    client = _client(args["url"])
    ready()
    now = int(time.time() * 1000)
    for index in args["indexes"]:
        score, group = search_fixture(index)
        run_id = client.create_run(args["experiment_id"], run_name=f"s{index}").info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric("score", score, now, 0), Metric("loss", 1.0 - score, now, 0)],
            params=[Param("group", group), Param("lr", str(index % 10 / 100))],
        )
    return {"created": len(args["indexes"]), "end": time.monotonic()}


def sdk_ingest(args: dict[str, Any], ready: Ready) -> dict[str, Any]:
    """The native SDK: from the first log call until the producer has flushed to Kafka."""
    from services.sdk import LedgerflowClient

    keys = _keys(args["keys"])
    with LedgerflowClient(args["url"]) as lf:
        run = lf.start_run(args["experiment_id"], run_name=f"sdk-{uuid.uuid4().hex[:6]}")
        ready()
        cpu = time.process_time()
        first = time.monotonic()
        deadline = first + args["seconds"]
        steps = args["points"] // len(keys)
        step = -1
        for step in range(steps):
            run.log_metrics(dict.fromkeys(keys, float(step)), step=step)
            if step % 1000 == 999 and time.monotonic() >= deadline:
                break
        run.flush()
        flushed = time.monotonic()
    return {
        "run_id": run.run_id,
        "keys": keys,
        "points": (step + 1) * len(keys),
        "steps": step + 1,
        "last_step": step,
        "first": first,
        "flushed": flushed,
        "end": flushed,
        "client_cpu_s": time.process_time() - cpu,
    }


def warm_up(args: dict[str, Any], ready: Ready) -> dict[str, Any]:
    """Untimed: every kind of request a few times, so each server worker process has loaded
    what it loads lazily before anything is measured."""
    from mlflow.entities import Metric

    client = _client(args["url"])
    ready()
    now = int(time.time() * 1000)
    name = f"warm-{uuid.uuid4().hex[:10]}"
    client.create_registered_model(name)
    for i in range(args["rounds"]):
        run = client.create_run(args["experiment_id"])
        run_id = run.info.run_id
        client.log_batch(run_id, metrics=[Metric("w", float(s), now, s) for s in range(100)])
        client.log_metric(run_id, "x", float(i), step=i)
        client.get_metric_history(run_id, "w")
        client.get_run(run_id)
        client.search_runs([args["experiment_id"]], "metrics.w > 0", order_by=["metrics.w DESC"])
        version = client.create_model_version(name, f"{run.info.artifact_uri}/m", run_id=run_id)
        client.set_registered_model_alias(name, "warm", version.version)
        client.transition_model_version_stage(name, version.version, "Staging")
    return {"end": time.monotonic()}


# ---- the same requests over plain HTTP, without the mlflow client
#
# What the mlflow client would send (the JSON of the REST contract), through one requests
# session, with the response decoded as JSON and checked but not turned into mlflow entities:
# the client's own CPU per request (protobuf messages, entities) is out of these phases, so
# their ratios are the servers' own.


class _Api:
    """POST and GET of the tracking and registry REST API at one server, JSON in and out."""

    def __init__(self, url: str) -> None:
        import requests

        self.base = f"{url}/api/2.0/mlflow"
        self.session = requests.Session()

    def _answer(self, response: Any) -> dict[str, Any]:
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
        return dict(response.json())

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._answer(self.session.post(f"{self.base}/{path}", json=body, timeout=60))

    def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        return self._answer(self.session.get(f"{self.base}/{path}", params=params, timeout=60))


def _new_run(api: _Api, experiment_id: str) -> dict[str, Any]:
    """A new run's info (run_id, artifact_uri, ...)."""
    body = {"experiment_id": experiment_id, "start_time": int(time.time() * 1000)}
    return dict(api.post("runs/create", body)["run"]["info"])


def log_metric_http(args: dict[str, Any], ready: Ready) -> dict[str, Any]:
    api = _Api(args["url"])
    run_id = str(_new_run(api, args["experiment_id"])["run_id"])
    now = int(time.time() * 1000)
    measured = _measure(
        ready,
        args["max_calls"],
        args["seconds"],
        lambda step: api.post(
            "runs/log-metric",
            {
                "run_id": run_id,
                "run_uuid": run_id,
                "key": "loss",
                "value": float(step),
                "timestamp": now,
                "step": step,
            },
        ),
    )
    return {"run_id": run_id, **measured}


def _history(api: _Api, run_id: str, key: str) -> list[Any]:
    """Every point of one metric, page by page as the mlflow client asks for them."""
    points: list[Any] = []
    token = None
    while True:
        params = {"run_id": run_id, "run_uuid": run_id, "metric_key": key, "max_results": 25000}
        if token:
            params["page_token"] = token
        page = api.get("metrics/get-history", params)
        points.extend(page.get("metrics", []))
        token = page.get("next_page_token")
        if not token:
            return points


def get_metric_history_http(args: dict[str, Any], ready: Ready) -> dict[str, Any]:
    api = _Api(args["url"])
    return _measure(
        ready,
        args["max_requests"],
        args["seconds"],
        lambda _: _history(api, args["run_id"], args["key"]),
        _count_is(args["expected"], "points"),
    )


def search_runs_http(args: dict[str, Any], ready: Ready) -> dict[str, Any]:
    api = _Api(args["url"])
    body = {
        "experiment_ids": [args["experiment_id"]],
        "filter": args["filter"],
        "order_by": args["order_by"],
        "max_results": 1000,
        "run_view_type": "ACTIVE_ONLY",
    }
    return _measure(
        ready,
        args["max_requests"],
        args["seconds"],
        lambda _: api.post("runs/search", body).get("runs", []),
        _count_is(args["expected"], "runs"),
    )


def registry_writes_http(args: dict[str, Any], ready: Ready) -> dict[str, Any]:
    """The three writes of `registry_writes`, without the reads the mlflow client adds."""
    api = _Api(args["url"])
    name = f"bench-{uuid.uuid4().hex[:10]}"
    api.post("registered-models/create", {"name": name})
    run = _new_run(api, args["experiment_id"])
    run_id, source = run["run_id"], f"{run['artifact_uri']}/model"
    return _registry_rounds(
        args,
        ready,
        create=lambda: api.post(
            "model-versions/create", {"name": name, "source": source, "run_id": run_id}
        )["model_version"]["version"],
        set_alias=lambda version: api.post(
            "registered-models/alias", {"name": name, "alias": "champion", "version": version}
        ),
        transition=lambda version: api.post(
            "model-versions/transition-stage",
            {
                "name": name,
                "version": version,
                "stage": "Staging",
                "archive_existing_versions": False,
            },
        ),
    )
