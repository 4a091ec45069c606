"""The response-kernel hierarchy (docs/theory.md §4): operator trees in a networkx DAG."""

from .convergence import ConvergenceWarning, SeriesDiagnostics, diagnose_series
from .dag import ResponseHierarchy, check_input, check_times
from .kernel import ResponseKernel, check_lags, gap_symbols, lag_symbols

__all__ = ["ResponseHierarchy", "ResponseKernel", "check_input", "check_times", "check_lags",
           "lag_symbols", "gap_symbols", "ConvergenceWarning", "SeriesDiagnostics",
           "diagnose_series"]
