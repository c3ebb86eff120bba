"""The projector's decision about one event: accepted, or rejected with MLflow's error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Verdict:
    accepted: bool
    error_code: str | None = None
    reason: str | None = None
    outcome: dict[str, Any] | None = None
    """What the decision produced that the writer needs back (e.g. an assigned version)."""

    @property
    def label(self) -> str:
        return "accepted" if self.accepted else "rejected"


ACCEPTED = Verdict(accepted=True)


class Rejection(Exception):
    """Raised by a projection to reject its event; everything it wrote is rolled back."""

    def __init__(self, error_code: str, reason: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{error_code}: {reason}")
        self.error_code = error_code
        self.reason = reason
        self.details = details
        """Structured facts of the rejection (kept as the verdict's outcome), so a writer can
        phrase the error for its endpoint."""
