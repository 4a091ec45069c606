"""Shared fixtures: small models used across the test suite."""

import numpy as np
import pytest

from volterra_sym import SRNN


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
