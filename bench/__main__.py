"""`python -m bench`: the side-by-side benchmark of ledgerflow and the reference mlflow server.

python -m bench                 # full sizes, 3 repetitions (~40 min on 2 cores), docs/benchmarks/
python -m bench --quick --output /tmp/bench   # the tiny smoke version (CI)
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from bench.clients import CLIENT_ENV

# The parent process talks to the servers through the mlflow client too (preparation, checks).
os.environ.update(CLIENT_ENV)

from bench.servers import ALL_SERVERS, ROOT
from bench.sizes import FULL, QUICK, scaled

DEFAULT_SERVERS = [
    "ledgerflow-cluster",
    "mlflow-sqlite",
    "mlflow-postgres",
    "mlflow-sqlite-w1",
    "mlflow-postgres-w1",
]
QUICK_SERVERS = ["ledgerflow-cluster", "mlflow-sqlite-w1", "mlflow-postgres-w1"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one client count")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "docs" / "benchmarks", help="where results go"
    )
    parser.add_argument(
        "--servers",
        help=f"comma-separated, from {', '.join(ALL_SERVERS)} "
        f"(default: {','.join(DEFAULT_SERVERS)}; --quick: {','.join(QUICK_SERVERS)})",
    )
    parser.add_argument(
        "--seconds", type=float, help="override every phase's deadline (seconds per phase)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        help="how many times each phase runs, the median one shown (full: 3, --quick: 2)",
    )
    parser.add_argument("--workdir", type=Path, help="keep servers' data and logs here")
    parser.add_argument(
        "--from-json",
        type=Path,
        help="measure nothing: rewrite results.md and chart.png from this results.json",
    )
    args = parser.parse_args(argv)
    if args.from_json:
        import json

        from bench.runner import write_reports

        write_reports(json.loads(args.from_json.read_text()), args.output)
        return
    names = (
        args.servers.split(",")
        if args.servers
        else QUICK_SERVERS
        if args.quick
        else DEFAULT_SERVERS
    )
    unknown = [n for n in names if n not in ALL_SERVERS]
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if unknown:
        parser.error(f"unknown server(s): {', '.join(unknown)}")
    if not any(n.startswith("mlflow-") for n in names) or not any(
        n.startswith("ledgerflow-") for n in names
    ):
        parser.error("name at least one ledgerflow server and one mlflow server")
    from bench.runner import run

    # A stopped benchmark (CI timeout, Ctrl-C) still stops the servers it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run(
        output=args.output,
        sizes=scaled(QUICK if args.quick else FULL, args.seconds, args.repeats),
        server_names=names,
        mode="quick" if args.quick else "full",
        command="python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        workdir=args.workdir,
    )


if __name__ == "__main__":
    main()
