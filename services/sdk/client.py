"""The native client: create runs through the gateway, log straight onto the event log.

    from services.sdk import LedgerflowClient

    with LedgerflowClient("http://ledgerflow:5000") as lf:
        run = lf.start_run(experiment_id="0", run_name="train")
        for step in range(100_000):
            run.log_metrics({"loss": ..., "acc": ...}, step=step)
        run.end()                       # flushes, then marks the run FINISHED

Metric points are grouped per run into `metrics.logged` events of up to 1000 points and published
to the data topic, keyed by run id, by an idempotent producer. Delivery is guaranteed once
`flush()` (or leaving the `with` block) returns; projection follows, and rejections can be read
from the gateway's /api/ledgerflow/rejections.
"""

from __future__ import annotations

import getpass
import time
from types import TracebackType
from typing import Any

import httpx

from schemas import (
    MAX_METRICS_PER_EVENT,
    Actor,
    MetricsLogged,
    Param,
    ParamsLogged,
    Payload,
    RunTagsSet,
    Tag,
    encode,
    new_event,
)
from services.sdk.producer import EventProducer, ProducerSettings


class LedgerflowError(RuntimeError):
    """The gateway refused a request; carries MLflow's error code."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code


class LedgerflowClient:
    def __init__(
        self,
        tracking_uri: str,
        *,
        bootstrap_servers: str | None = None,
        producer: ProducerSettings | None = None,
        user: str | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri.rstrip("/")
        self._http = httpx.Client(base_url=self.tracking_uri, timeout=60.0)
        info = self._get("/api/ledgerflow/log-info")
        if info["backend"] != "kafka":
            self._http.close()
            raise LedgerflowError(
                "INVALID_STATE",
                "the native SDK publishes to Kafka, but this server runs the embedded log; use "
                "the mlflow client (or point the server at Kafka)",
            )
        self.data_topic: str = info["topics"]["data"]
        self.data_partitions: int = info["data_partitions"]
        self.actor = Actor(name=user or getpass.getuser(), kind="self_reported")
        try:
            self._producer = EventProducer(bootstrap_servers or info["bootstrap_servers"], producer)
        except BaseException:
            self._http.close()
            raise

    # ---- REST: runs are created and finished through the gateway (they need ids and state)

    def _get(self, path: str, **params: Any) -> Any:
        return self._answer(self._http.get(path, params=params))

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        return self._answer(self._http.post(path, json=body))

    @staticmethod
    def _answer(response: httpx.Response) -> Any:
        body = response.json()
        if response.status_code != 200:
            raise LedgerflowError(body.get("error_code", "INTERNAL_ERROR"), body.get("message", ""))
        return body

    def start_run(
        self,
        experiment_id: str = "0",
        run_name: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> RunLogger:
        body: dict[str, Any] = {
            "experiment_id": experiment_id,
            "user_id": self.actor.name,
            "start_time": int(time.time() * 1000),
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
        }
        if run_name:
            body["run_name"] = run_name
        run = self._post("/api/2.0/mlflow/runs/create", body)["run"]
        return RunLogger(self, run["info"]["run_id"])

    def rejections(self, run_id: str) -> list[dict[str, Any]]:
        """Events of this run the projector refused (e.g. a changed param value)."""
        body = self._get("/api/ledgerflow/rejections", aggregate=run_id)
        return list(body["rejections"])

    # ---- the log

    def publish(self, payload: Payload) -> None:
        event = new_event(payload, actor=self.actor, source="sdk")
        self._producer.send(
            self.data_topic, event.aggregate.encode(), encode(event), self.data_partitions
        )

    def flush(self, timeout: float = 120.0) -> None:
        """Every event published so far is durable in Kafka when this returns."""
        self._producer.flush(timeout)

    def close(self) -> None:
        try:
            self._producer.close()
        finally:
            self._http.close()

    def __enter__(self) -> LedgerflowClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class RunLogger:
    """Logs to one run; buffers metric points into events of up to 1000 points."""

    def __init__(self, client: LedgerflowClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        self._keys: list[str] = []
        self._values: list[float] = []
        self._timestamps: list[int] = []
        self._steps: list[int] = []

    def log_metric(
        self, key: str, value: float, step: int = 0, timestamp: int | None = None
    ) -> None:
        # Columns, as the event carries them: validated once per event, not once per point.
        self._keys.append(key)
        self._values.append(float(value))
        self._timestamps.append(timestamp if timestamp is not None else int(time.time() * 1000))
        self._steps.append(step)
        if len(self._keys) >= MAX_METRICS_PER_EVENT:
            self._publish_points()

    def log_metrics(
        self, metrics: dict[str, float], step: int = 0, timestamp: int | None = None
    ) -> None:
        moment = timestamp if timestamp is not None else int(time.time() * 1000)
        count = len(metrics)
        if len(self._keys) + count > MAX_METRICS_PER_EVENT:
            for key, value in metrics.items():  # spans two events: point by point
                self.log_metric(key, value, step, moment)
            return
        # the usual call: the whole dict joins the columns at once
        self._keys.extend(metrics)
        self._values.extend(map(float, metrics.values()))
        self._timestamps.extend([moment] * count)
        self._steps.extend([step] * count)
        if len(self._keys) >= MAX_METRICS_PER_EVENT:
            self._publish_points()

    def log_params(self, params: dict[str, Any]) -> None:
        items = [Param(key=k, value=str(v)) for k, v in params.items()]
        for start in range(0, len(items), 100):
            self.client.publish(ParamsLogged(run_id=self.run_id, params=items[start : start + 100]))

    def set_tags(self, tags: dict[str, Any]) -> None:
        items = [Tag(key=k, value=str(v)) for k, v in tags.items()]
        for start in range(0, len(items), 100):
            self.client.publish(RunTagsSet(run_id=self.run_id, tags=items[start : start + 100]))

    def _publish_points(self) -> None:
        if self._keys:
            event = MetricsLogged(
                run_id=self.run_id,
                keys=self._keys,
                values=self._values,
                timestamps=self._timestamps,
                steps=self._steps,
            )
            self._keys, self._values, self._timestamps, self._steps = [], [], [], []
            self.client.publish(event)

    def flush(self) -> None:
        self._publish_points()
        self.client.flush()

    def end(self, status: str = "FINISHED") -> None:
        self.flush()
        self.client._post(
            "/api/2.0/mlflow/runs/update",
            {"run_id": self.run_id, "status": status, "end_time": int(time.time() * 1000)},
        )
