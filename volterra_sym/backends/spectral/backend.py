"""The ``spectral`` route object registered with the hierarchy."""

from __future__ import annotations

import sympy as sp

from ...model import SRNN
from ...model.noise import FEATURE_ACTIVATION_INPUT, FEATURE_STATE_NOISE
from ...results import SeriesTerms
from ..scaling import scaled_mean0, scaled_series
from . import general
from .kernels import applies, kernel, kernels, mean0
from .series import series_terms


def _general(model: SRNN) -> bool:
    """The 1-D route of :mod:`.general` (input inside the activation, σ(h))."""
    return bool(model.features)


# ---------------------------------------------------------------------- backend object
class _SpectralBackend:
    """Backend protocol of :mod:`volterra_sym.backends` for ``method="spectral"``."""

    name = "spectral"
    #: docs/theory.md §10–§11 (n = 1: :mod:`.general`)
    features = frozenset({FEATURE_ACTIVATION_INPUT, FEATURE_STATE_NOISE})

    def applies(self, model: SRNN, f: sp.Expr) -> str | None:
        if _general(model):
            return general.applies_general(model, f)
        return applies(model, f)

    def kernels(self, model, f, graph, requests, **options):
        if _general(model):
            return general.kernels(model, f, graph, requests, **options)
        return kernels(model, f, graph, requests, **options)

    def kernel(self, model, f, channels, sorted_lags, *, return_error=False, **options):
        return kernel(model, f, channels, sorted_lags, return_error=return_error, **options)

    def mean0(self, hierarchy, **options) -> tuple[float, float]:
        """``(<f>_0, error estimate)`` of the converged grid (``f`` rescaled,
        :mod:`..scaling`); ``options`` as for kernels."""
        model = hierarchy.model
        fn = general.mean0 if _general(model) else mean0
        return scaled_mean0(hierarchy.f, lambda f: tuple(fn(model, f, **options)), self.name)

    def series_terms(self, hierarchy, u, times, **options) -> SeriesTerms:
        """Series terms of the converged grid (``f`` rescaled, :mod:`..scaling`)."""
        model, order = hierarchy.model, hierarchy.order

        def compute(f) -> SeriesTerms:
            if _general(model):
                terms, err, N = general.series_terms(model, f, order, u, times, **options)
                return SeriesTerms(terms, err, self.name,
                                   {"resolution": N, "integrator": "Radau"})
            res = series_terms(model, f, order, u, times, **options)
            return SeriesTerms(res.terms, res.error, self.name,
                               {"resolution": res.resolution, "steps": res.steps})
        return scaled_series(hierarchy.f, compute, self.name)


BACKEND = _SpectralBackend()

