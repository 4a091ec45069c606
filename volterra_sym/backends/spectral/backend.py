"""The ``spectral`` route object registered with the hierarchy."""

from __future__ import annotations

import sympy as sp

from ...model import SRNN
from ...results import SeriesTerms
from .kernels import applies, kernel, kernels, mean0
from .series import series_terms


# ---------------------------------------------------------------------- backend object
class _SpectralBackend:
    """Backend protocol of :mod:`volterra_sym.backends` for ``method="spectral"``."""

    name = "spectral"

    def applies(self, model: SRNN, f: sp.Expr) -> str | None:
        return applies(model, f)

    def kernels(self, model, f, graph, requests, **options):
        return kernels(model, f, graph, requests, **options)

    def kernel(self, model, f, channels, sorted_lags, *, return_error=False, **options):
        return kernel(model, f, channels, sorted_lags, return_error=return_error, **options)

    def mean0(self, hierarchy) -> float:
        return mean0(hierarchy.model, hierarchy.f)[0]

    def series_terms(self, hierarchy, u, times, **options) -> SeriesTerms:
        res = series_terms(hierarchy.model, hierarchy.f, hierarchy.order, u, times, **options)
        return SeriesTerms(res.terms, res.error, self.name,
                           {"resolution": res.resolution, "steps": res.steps})


BACKEND = _SpectralBackend()

