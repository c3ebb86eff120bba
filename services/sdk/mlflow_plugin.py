"""An MLflow tracking-store plugin: `ledgerflow+kafka://host:port` as the tracking URI.

Training code keeps calling `mlflow.log_metric`, `log_metrics`, `log_params`, `set_tags` and
`log_batch`; those go straight onto Kafka through the native SDK (batched, idempotent, bounded).
Everything else (runs, experiments, searches, the registry) is MLflow's REST protocol against the
gateway at http://host:port. `update_run_info` (end of a run) first flushes, so a run is only
marked finished once all of its points are durable in the log; projection follows
asynchronously, so a read right after a write may not see it yet.

URI options: `?bootstrap=broker:9092` overrides the brokers the gateway advertises;
`?tls=true` talks https to the gateway.
"""

from __future__ import annotations

import atexit
import urllib.parse
from functools import partial

from mlflow.entities import Metric, Param, RunTag
from mlflow.store.tracking.rest_store import RestStore
from mlflow.utils.credentials import get_default_host_creds

from schemas import MAX_METRICS_PER_EVENT, MetricsLogged, ParamsLogged, RunTagsSet
from schemas import Param as EventParam
from schemas import Tag as EventTag
from services.sdk.client import LedgerflowClient

SCHEME = "ledgerflow+kafka"


def gateway_uri(store_uri: str) -> tuple[str, dict[str, str]]:
    parsed = urllib.parse.urlparse(store_uri)
    if parsed.scheme != SCHEME or not parsed.netloc:
        raise ValueError(f"expected {SCHEME}://host:port, got {store_uri!r}")
    options = dict(urllib.parse.parse_qsl(parsed.query))
    http = "https" if options.get("tls", "").lower() in ("1", "true", "yes") else "http"
    return f"{http}://{parsed.netloc}{parsed.path.rstrip('/')}", options


class LedgerflowKafkaStore(RestStore):
    def __init__(self, store_uri: str, artifact_uri: str | None = None) -> None:
        http_uri, options = gateway_uri(store_uri)
        super().__init__(partial(get_default_host_creds, http_uri))
        self._sdk = LedgerflowClient(http_uri, bootstrap_servers=options.get("bootstrap"))
        atexit.register(self._sdk.close)

    def log_metric(self, run_id: str, metric: Metric) -> None:
        self.log_batch(run_id, metrics=[metric], params=[], tags=[])

    def log_param(self, run_id: str, param: Param) -> None:
        self.log_batch(run_id, metrics=[], params=[param], tags=[])

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self.log_batch(run_id, metrics=[], params=[], tags=[tag])

    def log_batch(
        self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]
    ) -> None:
        if params:
            self._sdk.publish(
                ParamsLogged(
                    run_id=run_id,
                    params=[EventParam(key=p.key, value=str(p.value)) for p in params],
                )
            )
        for start in range(0, len(metrics), MAX_METRICS_PER_EVENT):
            chunk = metrics[start : start + MAX_METRICS_PER_EVENT]
            self._sdk.publish(
                MetricsLogged.from_columns(
                    run_id,
                    keys=[m.key for m in chunk],
                    values=[float(m.value) for m in chunk],
                    timestamps=[int(m.timestamp) for m in chunk],
                    steps=[int(m.step or 0) for m in chunk],
                    model_ids=[getattr(m, "model_id", None) for m in chunk],
                    dataset_names=[getattr(m, "dataset_name", None) for m in chunk],
                    dataset_digests=[getattr(m, "dataset_digest", None) for m in chunk],
                )
            )
        if tags:
            self._sdk.publish(
                RunTagsSet(
                    run_id=run_id, tags=[EventTag(key=t.key, value=str(t.value)) for t in tags]
                )
            )

    def update_run_info(self, run_id, run_status, end_time, run_name):
        self._sdk.flush()
        return super().update_run_info(run_id, run_status, end_time, run_name)

    def flush(self) -> None:
        self._sdk.flush()
