"""The shared Euler–Maruyama step (volterra_sym/model/euler_maruyama.py): σ(h)ΔB against a
per-path matrix product, for constant, diagonal and full state-dependent noise, with a
leading copy dimension sharing the increments (common random numbers)."""

import numpy as np
import pytest

from volterra_sym.model import SRNN
from volterra_sym.model.euler_maruyama import NoiseMap, euler_maruyama_step

G, W, C = [[1, 0], [0, 1.5]], [[0.2, -0.4], [0.6, 0.1]], [[1], [0.5]]
MODELS = {
    "constant": SRNN(Gamma=G, W=W, C=C, activation="tanh", sigma=[[0.5, 0.1], [0.0, 0.3]]),
    "diagonal": SRNN(Gamma=G, W=W, C=C, activation="tanh",
                     sigma=[["sqrt(0.2 + 0.1*h1**2)", "0"], ["0", "0.4 + 0.1*tanh(h2)"]]),
    "full": SRNN(Gamma=G, W=W, C=C, activation="tanh",
                 sigma=[["0.5 + 0.1*tanh(h2)", "0.1"], ["0.05*tanh(h1)", "0.4"]]),
}


@pytest.mark.parametrize("kind", list(MODELS))
def test_noise_map_matches_per_path_product(kind):
    model = MODELS[kind]
    noise = NoiseMap(model)
    assert (noise.constant is not None) == (kind == "constant")
    assert (noise.diagonal is not None) == (kind == "diagonal")
    rng = np.random.default_rng(3)
    h = rng.standard_normal((3, 7, 2))                # 3 copies of 7 paths
    dB = 0.1 * rng.standard_normal((7, 2))
    sig = model.noise_numpy()
    want = np.array([[sig(h[c, p][None])[0] @ dB[p] for p in range(7)] for c in range(3)])
    np.testing.assert_allclose(np.broadcast_to(noise(h, dB), h.shape), want, rtol=1e-14,
                               atol=1e-16)
    drift = model.drift_numpy()(h)
    np.testing.assert_allclose(euler_maruyama_step(h, drift, 0.01, dB, noise),
                               h + 0.01 * drift + want, rtol=1e-14, atol=1e-16)
