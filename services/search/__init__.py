"""Search for runs and experiments: MLflow's filter and order_by grammar compiled to PostgreSQL
over the read models, paged by key so that pages stay correct while runs come and go."""

from services.search.errors import SearchError
from services.search.experiments import (
    EXPERIMENT_SPEC,
    ExperimentSearch,
    compile_experiment_search,
)
from services.search.grammar import Comparison, OrderKey, SearchSpec, parse_filter, parse_order_by
from services.search.paging import CompiledSearch
from services.search.runs import RUN_SPEC, RunSearch, compile_run_search

__all__ = [
    "EXPERIMENT_SPEC",
    "RUN_SPEC",
    "Comparison",
    "CompiledSearch",
    "ExperimentSearch",
    "OrderKey",
    "RunSearch",
    "SearchError",
    "SearchSpec",
    "compile_experiment_search",
    "compile_run_search",
    "parse_filter",
    "parse_order_by",
]
