"""The registry tests reuse the tracking deployments (embedded and cluster)."""

from tests.e2e.tracking.conftest import client, tracking_uri  # noqa: F401 (fixtures)
