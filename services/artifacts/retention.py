"""The retention policy and its plan: which runs' and logged models' artifacts a gc sweep deletes,
and which it keeps because a registered model version references them.

Pure: facts from the read models in, a plan out (services/artifacts/gc.py loads the facts and
carries the plan out). The rules, in order:

1. A run is *named* by the policy if it is in one of the given experiments (all when none are
   given) and either it is deleted and its `deleted_time` is more than `deleted_older_than` before
   now, or its `start_time` is more than `runs_older_than` before now (whatever its state).
2. A logged model is named if it is in one of the given experiments and every run it belongs to
   (its source run, and the runs that list it as an input or output) is named, and there is at
   least one. A model that also belongs to a run the policy does not name is kept.
3. A named run or model is kept, whole, if a model version that is not deleted references it:
   the version's run_id is the run or its model_id is the model; its source is `runs:/<run_id>/...`
   or `models:/<model_id>`; its source is a location (mlflow-artifacts:, the proxied http route,
   s3:// in the store's bucket) that overlaps the artifact root; or its source is another version
   (`models:/<name>/<version>`) that references it.
4. A named run or model whose artifacts are not in the gateway's store is kept (nothing to
   delete there); everything else named is collected.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import unquote, urlparse

from schemas.envelope import format_time
from services.artifacts.layout import key_of_uri
from services.artifacts.paths import UnsafePath, check_key
from services.artifacts.settings import ArtifactSettings

DAY = timedelta(days=1)
OwnerKind = Literal["run", "model"]
KeptBecause = Literal["referenced", "shared", "outside"]
Locate = Callable[[str], str | None]
"""Maps an artifact URI to the store key it points at, or None when it is outside the store."""

_MAX_SOURCE_DEPTH = 8
"""How many `models:/<name>/<version>` hops a version's source is followed."""


@dataclass(frozen=True, slots=True)
class RunFacts:
    run_id: str
    experiment_id: str
    lifecycle_stage: str
    start_time: int | None
    """Epoch milliseconds."""
    deleted_time: int | None
    artifact_uri: str


@dataclass(frozen=True, slots=True)
class ModelFacts:
    model_id: str
    experiment_id: str
    artifact_location: str
    source_run_id: str | None
    linked_run_ids: frozenset[str] = frozenset()
    """Runs that list the model as an input or an output."""

    @property
    def runs(self) -> frozenset[str]:
        """Every run the model belongs to."""
        source = {self.source_run_id} if self.source_run_id else set()
        return self.linked_run_ids | source


@dataclass(frozen=True, slots=True)
class VersionFacts:
    """A model version that is not deleted."""

    name: str
    version: int
    source: str
    run_id: str | None
    model_id: str | None

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


def _days(span: timedelta) -> str:
    days = span / DAY
    text = f"{days:g}" if days == int(days) else f"{days:.2f}".rstrip("0")
    return f"{text} day" if text == "1" else f"{text} days"


def _ago(now_ms: int, then_ms: int) -> str:
    days = (now_ms - then_ms) / 86_400_000
    return f"{math.floor(days)} days" if days >= 10 else f"{days:.1f} days"


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """What a sweep deletes, relative to ``now`` (injectable, so a sweep is reproducible)."""

    now: datetime
    deleted_older_than: timedelta | None = None
    runs_older_than: timedelta | None = None
    experiments: frozenset[str] = field(default_factory=frozenset)
    """Only these experiments; empty means all."""

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("the policy's now must carry a time zone")
        if self.deleted_older_than is None and self.runs_older_than is None:
            raise ValueError("a retention policy needs --deleted-older-than or --runs-older-than")
        for span in (self.deleted_older_than, self.runs_older_than):
            if span is not None and span < timedelta(0):
                raise ValueError("retention ages cannot be negative")

    @property
    def now_ms(self) -> int:
        return _millis(self.now)

    @property
    def deleted_before(self) -> int | None:
        """Runs deleted before this (epoch ms) are named; None when the rule is off."""
        if self.deleted_older_than is None:
            return None
        return _millis(self.now - self.deleted_older_than)

    @property
    def started_before(self) -> int | None:
        """Runs started before this (epoch ms) are named; None when the rule is off."""
        if self.runs_older_than is None:
            return None
        return _millis(self.now - self.runs_older_than)

    def covers(self, experiment_id: str) -> bool:
        return not self.experiments or experiment_id in self.experiments

    def run_reason(self, run: RunFacts) -> str | None:
        """Why the policy names ``run``, or None if it does not."""
        if not self.covers(run.experiment_id):
            return None
        deleted_before = self.deleted_before
        if (
            deleted_before is not None
            and run.lifecycle_stage == "deleted"
            and run.deleted_time is not None
            and run.deleted_time < deleted_before
        ):
            return f"deleted {_ago(self.now_ms, run.deleted_time)} ago"
        started_before = self.started_before
        if (
            started_before is not None
            and run.start_time is not None
            and run.start_time < started_before
        ):
            return f"started {_ago(self.now_ms, run.start_time)} ago"
        return None

    def describe(self) -> str:
        """The policy in one line, for the summary and the `artifacts.collected` events."""
        rules = []
        if self.deleted_older_than is not None:
            rules.append(f"runs deleted more than {_days(self.deleted_older_than)} ago")
        if self.runs_older_than is not None:
            rules.append(f"runs started more than {_days(self.runs_older_than)} ago")
        text = " or ".join(rules) + ", and logged models belonging only to them"
        if self.experiments:
            text += f", in experiment(s) {', '.join(sorted(self.experiments, key=_id_order))}"
        return f"{text}; as of {format_time(self.now)}; kept when a model version references them"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _millis(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)  # exact, unlike timestamp() * 1000


def _id_order(identifier: str) -> tuple[int, str]:
    return (int(identifier), "") if identifier.isdigit() else (1 << 62, identifier)


def policy_now(value: str | None) -> datetime:
    """`--now` (ISO-8601; UTC unless it says otherwise), or the current time."""
    if value is None:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def store_locator(settings: ArtifactSettings) -> Locate:
    """Which URIs point into the configured store: proxied ones (`mlflow-artifacts:`, the http
    route) and, with the S3 store, `s3://<its bucket>/<its prefix>/...`."""
    prefix = (settings.s3_prefix or "").strip("/")

    def locate(uri: str) -> str | None:
        key = key_of_uri(uri)
        if key is not None:
            return unquote(key).strip("/")
        if settings.backend != "s3":
            return None
        parsed = urlparse(uri)
        if parsed.scheme not in ("s3", "s3a") or parsed.netloc != settings.s3_bucket:
            return None
        path = unquote(parsed.path).strip("/")
        if not prefix:
            return path
        if path == prefix:
            return ""
        return path[len(prefix) + 1 :] if path.startswith(prefix + "/") else None

    return locate


@dataclass(frozen=True, slots=True)
class Owner:
    """A run or a logged model whose artifact root a sweep considers."""

    kind: OwnerKind
    experiment_id: str
    id: str
    uri: str
    """Its artifact location as the read model has it."""
    root: str | None
    """Store key of its artifact root; None when it is outside the store."""


@dataclass(frozen=True, slots=True)
class Collection:
    """A run or model whose artifacts the sweep deletes, and why."""

    owner: Owner
    reason: str


@dataclass(frozen=True, slots=True)
class Retained:
    """A run or model the policy names but the sweep keeps, and why."""

    owner: Owner
    reason: str
    """Why the policy named it."""
    because: KeptBecause
    detail: str
    versions: tuple[str, ...] = ()
    """The model versions referencing it ("name vN")."""


@dataclass(frozen=True, slots=True)
class RetentionPlan:
    policy: RetentionPolicy
    collect: tuple[Collection, ...]
    keep: tuple[Retained, ...]

    def collects(self, kind: OwnerKind, owner_id: str) -> Collection | None:
        for collection in self.collect:
            if (collection.owner.kind, collection.owner.id) == (kind, owner_id):
                return collection
        return None


def _overlap(a: str, b: str) -> bool:
    """Whether one key is the other or lies below it ("" is the whole store)."""
    return a == b or not a or not b or a.startswith(b + "/") or b.startswith(a + "/")


def _model_uri(path: str) -> tuple[str | None, str | None, str | None]:
    """(model_id, name, version) of a `models:/...` path; version None for stages and aliases."""
    parts = path.strip("/").split("/")
    if len(parts) == 1:
        if "@" in parts[0]:
            return None, parts[0].rpartition("@")[0], None
        return parts[0], None, None
    if len(parts) == 2:
        return None, parts[0], parts[1] if parts[1].isdigit() else None
    return None, None, None


@dataclass
class References:
    """What the live model versions reference, each with the versions that do."""

    runs: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    models: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    keys: list[tuple[str, str]] = field(default_factory=list)
    """(store key a source points at, version label)."""

    def of(self, owner: Owner) -> tuple[str, ...]:
        found = set(self.runs.get(owner.id, ())) if owner.kind == "run" else set()
        if owner.kind == "model":
            found |= self.models.get(owner.id, set())
        if owner.root is not None:
            found |= {label for key, label in self.keys if _overlap(key, owner.root)}
        return tuple(sorted(found))


def references(versions: Iterable[VersionFacts], locate: Locate) -> References:
    """Every run, model and store location a live version references, directly or through the
    versions its `models:/<name>/<version>` source names."""
    live = list(versions)
    by_name: dict[str, list[VersionFacts]] = defaultdict(list)
    for version in live:
        by_name[version.name].append(version)
    refs = References()

    def add(version: VersionFacts, label: str, depth: int) -> None:
        if version.run_id:
            refs.runs[version.run_id].add(label)
        if version.model_id:
            refs.models[version.model_id].add(label)
        parsed = urlparse(version.source)
        if parsed.scheme == "runs":
            run_id = parsed.path.strip("/").split("/", 1)[0] or parsed.netloc
            if run_id:
                refs.runs[run_id].add(label)
            return
        if parsed.scheme == "models":
            model_id, name, number = _model_uri(parsed.path)
            if model_id:
                refs.models[model_id].add(label)
            elif name and depth < _MAX_SOURCE_DEPTH:
                # A version copied from another: what that one references is referenced too.
                # A stage or alias cannot be resolved here; every version of the name counts.
                for target in by_name.get(name, []):
                    if target is not version and (number is None or target.version == int(number)):
                        add(target, label, depth + 1)
            return
        key = locate(version.source)
        if key is not None:
            refs.keys.append((key, label))

    for version in live:
        add(version, version.label, 0)
    return refs


def _root(uri: str, locate: Locate) -> str | None:
    key = locate(uri)
    if key is None:
        return None
    try:
        return check_key(key)
    except UnsafePath:
        return None


def plan(
    policy: RetentionPolicy,
    runs: Iterable[RunFacts],
    models: Iterable[ModelFacts],
    versions: Iterable[VersionFacts],
    locate: Locate,
) -> RetentionPlan:
    """Apply the rules (module docstring) to the facts. ``runs`` must hold every run the policy
    names (others are ignored), ``models`` every model belonging to one of them, ``versions``
    every live version that could reference them."""
    refs = references(versions, locate)
    collect: list[Collection] = []
    keep: list[Retained] = []

    def decide(owner: Owner, reason: str) -> None:
        labels = refs.of(owner)
        if labels:
            detail = "referenced by " + ", ".join(labels)
            keep.append(Retained(owner, reason, "referenced", detail, labels))
        elif owner.root is None:
            keep.append(Retained(owner, reason, "outside", f"not in the store: {owner.uri}"))
        else:
            collect.append(Collection(owner, reason))

    named: dict[str, str] = {}
    for run in runs:
        reason = policy.run_reason(run)
        if reason is None:
            continue
        named[run.run_id] = reason
        decide(
            Owner(
                "run",
                run.experiment_id,
                run.run_id,
                run.artifact_uri,
                _root(run.artifact_uri, locate),
            ),
            reason,
        )

    for model in models:
        belongs = model.runs
        if not policy.covers(model.experiment_id) or not belongs & named.keys():
            continue
        owner = Owner(
            "model",
            model.experiment_id,
            model.model_id,
            model.artifact_location,
            _root(model.artifact_location, locate),
        )
        others = sorted(belongs - named.keys())
        if others:
            reason = "belongs to named run(s) " + ", ".join(sorted(belongs & named.keys()))
            keep.append(
                Retained(owner, reason, "shared", "also belongs to run(s) " + ", ".join(others))
            )
            continue
        decide(owner, _model_reason(sorted(belongs), named))

    return RetentionPlan(
        policy, tuple(sorted(collect, key=_order)), tuple(sorted(keep, key=_order))
    )


def _model_reason(belongs: Sequence[str], named: dict[str, str]) -> str:
    if len(belongs) == 1:
        return f"belongs only to run {belongs[0]} ({named[belongs[0]]})"
    return "belongs only to runs " + ", ".join(belongs) + " (all named)"


def _order(decision: Collection | Retained) -> tuple[int, tuple[int, str], str]:
    owner = decision.owner
    return (0 if owner.kind == "run" else 1, _id_order(owner.experiment_id), owner.id)
