"""The side-by-side benchmark: ledgerflow against the reference `mlflow server`, run with
`python -m bench` (or `make bench`); results land in docs/benchmarks/."""
