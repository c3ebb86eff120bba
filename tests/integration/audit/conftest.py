"""An audit log filled through the embedded event log and projector."""

from __future__ import annotations

from tests.integration.projector.conftest import embedded_log  # noqa: F401 (a fixture)
