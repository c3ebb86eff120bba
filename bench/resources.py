"""What server processes use while a phase runs: peak resident memory (sampled) and CPU time
(before and after), per role (gateway, projector, server, postgres, kafka), each role a process
tree. The CPU split is the benchmark's profile of where the time goes."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import psutil


def _tree(process: psutil.Process) -> list[psutil.Process]:
    try:
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return []


def tree_rss(process: psutil.Process) -> int:
    """RSS of a process and its descendants, in bytes."""
    total = 0
    for member in _tree(process):
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


def tree_cpu(process: psutil.Process) -> dict[int, float]:
    """CPU seconds (user + system) so far of each process of the tree, by pid."""
    seconds = {}
    for member in _tree(process):
        with contextlib.suppress(psutil.Error):
            times = member.cpu_times()
            seconds[member.pid] = times.user + times.system
    return seconds


class ResourceSampler:
    """Samples each role's RSS every `interval` seconds on a background thread and takes its
    CPU times at the start and at each sample (so processes that exit mid-phase still count)."""

    def __init__(self, pids: dict[str, int], interval: float = 0.1) -> None:
        self._processes = {role: psutil.Process(pid) for role, pid in pids.items()}
        self._interval = interval
        self.peak_bytes: dict[str, int] = dict.fromkeys(pids, 0)
        self._cpu_start = {role: tree_cpu(p) for role, p in self._processes.items()}
        self._cpu_last = {role: dict(cpu) for role, cpu in self._cpu_start.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True, name="resources")
        self.started = time.monotonic()
        self.stopped: float | None = None

    def _sample(self) -> None:
        while True:
            self._take()
            if self._stop.wait(self._interval):
                self._take()
                self.stopped = time.monotonic()
                return

    def _take(self) -> None:
        for role, process in self._processes.items():
            self.peak_bytes[role] = max(self.peak_bytes[role], tree_rss(process))
            self._cpu_last[role].update(tree_cpu(process))

    def wall_seconds(self) -> float:
        return round((self.stopped or time.monotonic()) - self.started, 3)

    def peaks_mb(self) -> dict[str, float]:
        return {role: round(peak / 2**20, 1) for role, peak in self.peak_bytes.items()}

    def cpu_seconds(self) -> dict[str, float]:
        used = {}
        for role, last in self._cpu_last.items():
            start = self._cpu_start[role]
            used[role] = round(sum(v - start.get(pid, 0.0) for pid, v in last.items()), 2)
        return used


@contextlib.contextmanager
def sampling(pids: dict[str, int], interval: float = 0.1) -> Iterator[ResourceSampler]:
    sampler = ResourceSampler(pids, interval)
    sampler._thread.start()
    try:
        yield sampler
    finally:
        sampler._stop.set()
        sampler._thread.join(timeout=5)
