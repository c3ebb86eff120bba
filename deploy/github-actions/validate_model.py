"""Validate a registered model version on a labelled data set and record the result on it.

Loads the model the way serving does (`mlflow.pyfunc.load_model('models:/NAME/VERSION')`),
predicts on the CSV's feature columns, logs the accuracy as a metric on the version's run (where
`ledgerflow promote` reads a candidate's metrics) and tags the version `validated=true` with the
data's SHA-256. A `models:/NAME/<stage>` or `models:/NAME@alias` URI with nothing behind it (no
current version yet) is not an error: there is simply nothing to validate.

    python validate_model.py --model-uri models:/fraud/7 --data validation.csv --label label
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

STAGES = {"none", "staging", "production", "archived"}


def resolve(client: MlflowClient, uri: str) -> ModelVersion | None:
    """The registered version a models:/ URI names; None when a stage or alias has none."""
    if not uri.startswith("models:/"):
        raise SystemExit(f"expected a models:/NAME/VERSION, /STAGE or @ALIAS URI, got {uri!r}")
    path = uri.removeprefix("models:/")
    if "@" in path:
        name, alias = path.split("@", 1)
        try:
            return client.get_model_version_by_alias(name, alias)
        except MlflowException:
            return None
    name, _, ref = path.partition("/")
    if ref.lower() in STAGES:
        found = client.get_latest_versions(name, [ref])
        return found[0] if found else None
    return client.get_model_version(name, ref)


def accuracy(predicted: object, labels: np.ndarray) -> float:
    values = np.asarray(predicted)
    if values.ndim == 2 and values.shape[1] > 1:  # class probabilities
        values = values.argmax(axis=1)
    return float((values.reshape(-1) == labels).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--data", required=True, type=Path, help="CSV with features and label")
    parser.add_argument("--label", default="label", help="label column (default: label)")
    parser.add_argument("--metric", default="val_accuracy", help="metric name to log")
    args = parser.parse_args()

    client = MlflowClient()
    version = resolve(client, args.model_uri)
    if version is None:
        print(f"{args.model_uri}: no version there yet, nothing to validate")
        return 0
    uri = f"models:/{version.name}/{version.version}"
    frame = pd.read_csv(args.data)
    labels = frame.pop(args.label).to_numpy()
    model = mlflow.pyfunc.load_model(uri)
    value = accuracy(model.predict(frame.to_numpy()), labels)
    if not version.run_id:
        raise SystemExit(f"{uri} has no run to record {args.metric} on")
    client.log_metric(version.run_id, args.metric, value)
    digest = hashlib.sha256(args.data.read_bytes()).hexdigest()
    client.set_model_version_tag(version.name, version.version, "validated", "true")
    client.set_model_version_tag(version.name, version.version, "validated_on", digest[:16])
    print(f"{uri}: {args.metric}={value:.4f} on {len(labels)} rows (data sha256 {digest[:16]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
