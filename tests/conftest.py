"""Shared fixtures: small models used across the test suite."""

import os

import numpy as np
import pytest

from volterra_sym import SRNN

try:  # property-based tests (tests/test_properties_*.py); hypothesis is in the test extra
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover
    pass
else:
    # ci: 200 derandomized examples per target (reproducible); nightly: 2,000 random ones,
    # selected by HYPOTHESIS_PROFILE=nightly
    _SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large,
                HealthCheck.function_scoped_fixture]
    settings.register_profile("ci", max_examples=200, derandomize=True, deadline=None,
                              suppress_health_check=_SLOW_OK, print_blob=True)
    settings.register_profile("nightly", max_examples=2000, deadline=None,
                              suppress_health_check=_SLOW_OK, print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def linear2():
    """2-dim linear SRNN, two channels, non-normal A = Γ - W, correlated noise."""
    return SRNN(Gamma=[[1.0, 0.2], [0.0, 1.5]], W=[[0.0, 0.4], [-0.5, 0.1]],
                C=[[1.0, 0.0], [0.3, 1.0]], sigma=[[0.5, 0.0], [0.2, 0.4]], b=[0.3, -0.2])


@pytest.fixture
def linear3():
    """3-dim linear SRNN, two channels."""
    return SRNN(Gamma=np.diag([1.5, 1.2, 1.0]), W=[[0, 0.4, 0], [-0.4, 0, 0.3], [0, -0.3, 0]],
                C=[[1, 0], [0, 1], [0.5, 0.5]],
                sigma=[[0.5, 0, 0], [0, 0.4, 0], [0, 0.1, 0.3]], b=[0.2, -0.1, 0.3])
