"""How much each workload does: the full benchmark's sizes and the `--quick` smoke sizes.

Every phase is bounded twice: a count per client and a deadline (checked before each request,
so a phase lasts at most its deadline plus one request). The full sizes keep a run with the
three required servers (ledgerflow cluster, mlflow SQLite, mlflow PostgreSQL) plus the two
`--workers 1` reference variants, each phase three times, at about 40 minutes on a 2-core
machine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Sizes:
    # 1. log_batch ingest through the mlflow client
    ingest_clients: tuple[int, ...] = (1, 4, 16)
    batch_points: int = 1000
    metric_keys: int = 10
    ingest_max_batches: int = 100
    ingest_seconds: float = 8.0
    # 2. single log_metric
    log_metric_clients: tuple[int, ...] = (1, 4, 16)
    log_metric_max_calls: int = 2000
    log_metric_seconds: float = 6.0
    # 3. get_metric_history of one long metric
    history_points: int = 20_000
    history_clients: tuple[int, ...] = (1, 4)
    history_max_requests: int = 20
    history_seconds: float = 10.0
    # 4. search_runs over an experiment of many runs
    search_runs: int = 2000
    search_clients: tuple[int, ...] = (1, 4)
    search_max_requests: int = 100
    search_seconds: float = 8.0
    # 5. registry writes: create version, set alias, transition stage
    registry_clients: tuple[int, ...] = (1, 4)
    registry_max_rounds: int = 300
    registry_seconds: float = 8.0
    # the same requests over plain HTTP, without the mlflow client (no target): log_metric,
    # get_metric_history, search_runs and registry writes, each with its workload's counts
    http_clients: tuple[int, ...] = (1,)
    http_seconds: float = 4.0
    # native SDK ingest (ledgerflow cluster only), points per phase split over the producers
    sdk_producers: tuple[int, ...] = (1, 4)
    sdk_points: int = 1_000_000
    sdk_seconds: float = 20.0
    # how long a phase may wait for its writes to become queryable
    queryable_timeout: float = 180.0
    # how many times each phase runs (the median one is shown; bench/repetitions.py)
    repeats: int = 3

    def client_counts(self) -> list[int]:
        return sorted(
            {
                *self.ingest_clients,
                *self.log_metric_clients,
                *self.history_clients,
                *self.search_clients,
                *self.registry_clients,
                *self.http_clients,
                *self.sdk_producers,
            }
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


FULL = Sizes()

QUICK = Sizes(
    ingest_clients=(1,),
    ingest_max_batches=2,
    ingest_seconds=2.0,
    log_metric_clients=(1,),
    log_metric_max_calls=10,
    log_metric_seconds=2.0,
    history_points=2000,
    history_clients=(1,),
    history_max_requests=3,
    history_seconds=2.0,
    search_runs=40,
    search_clients=(1,),
    search_max_requests=3,
    search_seconds=2.0,
    registry_clients=(1,),
    registry_max_rounds=2,
    registry_seconds=2.0,
    http_seconds=2.0,
    sdk_producers=(1,),
    sdk_points=5000,
    sdk_seconds=5.0,
    queryable_timeout=60.0,
    repeats=2,
)


def scaled(sizes: Sizes, seconds: float | None, repeats: int | None = None) -> Sizes:
    """The same sizes with every phase's deadline set to `seconds` and `repeats` repetitions
    of each phase (CLI overrides; None keeps what `sizes` has)."""
    if repeats is not None:
        sizes = replace(sizes, repeats=repeats)
    if seconds is None:
        return sizes
    return replace(
        sizes,
        ingest_seconds=seconds,
        log_metric_seconds=seconds,
        history_seconds=seconds,
        search_seconds=seconds,
        registry_seconds=seconds,
        http_seconds=seconds,
        sdk_seconds=max(seconds, sizes.sdk_seconds),
    )
