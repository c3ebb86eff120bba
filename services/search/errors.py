"""The one error a search raises: a bad filter, order_by, page token or page size."""

from __future__ import annotations


class SearchError(Exception):
    """A search request MLflow would refuse; the gateway answers 400 INVALID_PARAMETER_VALUE.

    ``message`` is MLflow's own text wherever MLflow has one, so clients that match on it keep
    working.
    """

    error_code = "INVALID_PARAMETER_VALUE"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
