"""The SRNN model: shapes, symbols, model files, and refusal of bad input."""

import math

import numpy as np
import pytest
import sympy as sp

from volterra_sym import SRNN, ModelError
from volterra_sym.model import builtin_models


def test_drift_is_minus_gamma_h_plus_activation():
    m = SRNN(Gamma=[[1, 0], [0, 2]], W=[[0.5, 0], [0.1, 0.2]], C=[[1], [0]],
             sigma=0.3, b=[0.1, 0], activation="tanh")
    h1, h2 = m.h
    expected = sp.Matrix([-h1 + sp.tanh(h1 / 2 + sp.Rational(1, 10)),
                          -2 * h2 + sp.tanh(h1 / 10 + h2 / 5)])
    assert sp.simplify(m.drift - expected) == sp.zeros(2, 1)
    x = np.array([[0.3, -0.7], [1.2, 0.4]])
    ref = -x @ np.diag([1, 2]).T + np.tanh(x @ np.array([[0.5, 0], [0.1, 0.2]]).T + [0.1, 0])
    np.testing.assert_allclose(m.drift_numpy()(x), ref, rtol=1e-14)
    assert m.D == sp.eye(2) * sp.Rational(9, 100)


def test_symbolic_entries_and_expressions():
    m = SRNN(Gamma=[["gamma", 0], [0, "2*gamma"]], W=[[0, "-omega"], ["omega", 0]],
             C=[[1], [0]], sigma=[["s", 0], [0, "s"]])
    assert set(m.parameters) == {"gamma", "omega", "s"}
    assert not m.is_numeric
    num = m.subs(gamma=1.0, omega=0.5, s=0.3)
    assert num.is_numeric and num.A == sp.Matrix([[1, sp.Rational(1, 2)], [-sp.Rational(1, 2), 2]])


def test_fully_symbolic_model():
    m = SRNN.symbolic(2, 1, activation="tanh")
    assert len(m.parameters) == 4 + 4 + 2 + 2 + 4
    assert m.h == sp.symbols("h1 h2", real=True)


def test_from_dict_and_load(tmp_path):
    d = {"Gamma": [[1.0]], "W": [[0.5]], "b": [0.1], "C": [[1.0]], "sigma": [[0.4]],
         "activation": "sigmoid", "observable": "h1**2"}
    m = SRNN.from_dict(d)
    assert m.activation.name == "sigmoid" and m.default_observable == m.h[0] ** 2
    p = tmp_path / "model.toml"
    p.write_text('Gamma = [[1.0]]\nW = [[0.5]]\nb = [0.1]\nC = [[1.0]]\nsigma = [[0.4]]\n'
                 'activation = "sigmoid"\nobservable = "h1**2"\n')
    m2 = SRNN.load(p)
    assert m2.name == "model" and m2.drift == m.drift


@pytest.mark.parametrize("name", sorted(builtin_models()))
def test_builtin_models_load(name):
    SRNN.load(builtin_models()[name])


# ---------------------------------------------------------------------- bad input
def base(**kw):
    d = {"Gamma": [[1.0, 0], [0, 1.0]], "W": [[0, 0], [0, 0]], "C": [[1.0], [0.0]],
         "sigma": [[0.5, 0], [0, 0.5]]}
    d.update(kw)
    return d


@pytest.mark.parametrize("kw, match", [
    ({"Gamma": [[1, 0, 0], [0, 1, 0]]}, "Gamma must be square"),
    ({"C": [[1.0], [0.0], [2.0]]}, r"C has shape 3×1, expected 2×any"),
    ({"W": [[2.0, 0], [0, 0]]}, r"A = Γ - W is not stable: eigenvalue -1"),
    ({"W": [[1.0, -1.2], [1.2, 1.0]]}, r"A = Γ - W is not stable: eigenvalue 0\+1.2j|0-1.2j"),
    ({"activation": "relu"}, "ReLU is not smooth"),
    ({"activation": "max(z, 0)"}, "not smooth"),
    ({"Gamma": [[math.nan, 0], [0, 1]]}, r"Gamma\[0, 0\] must be finite"),
    ({"sigma": [[0.5, 0], [0, math.inf]]}, r"sigma\[1, 1\] must be finite"),
    ({"observable": "h1 + h3"}, "unknown variable 'h3'"),
    ({"sigma": [[0, 0], [0, 0]]}, "sigma is zero"),
    ({"b": [0.1, 0.2, 0.3]}, "b has 3 entries, expected 2"),
    ({"b": [0.1, float("nan")]}, r"b\[1\] must be finite"),   # a vector: one index
    ({"Gamma": [[1, 0], [0, 1]], "extra": 1}, "unknown model keys"),
])
def test_bad_input_is_refused_with_named_condition(kw, match):
    with pytest.raises(ModelError, match=match):
        SRNN.from_dict(base(**kw))


def test_gamma_as_a_vector_of_leak_rates_is_its_diagonal():
    """Γ = [γ_1, …, γ_n] means diag(γ); a wrong length, a NaN or a junk entry is refused by
    name (a vector is never a valid n×1 Γ for n > 1, so nothing else was meant)."""
    m = SRNN.from_dict(base(Gamma=[1.0, "2*g"]))
    assert m.Gamma == SRNN.from_dict(base(Gamma=[[1.0, 0], [0, "2*g"]])).Gamma
    assert str(m.Gamma[1, 1]) == "2*g" and m.Gamma[0, 1] == 0
    m = SRNN.from_dict(base(Gamma=[1.0, 0.8]))
    assert m == SRNN.from_dict(base(Gamma=[[1.0, 0], [0, 0.8]]))
    assert np.allclose(m.numpy_params()["Gamma"], np.diag([1.0, 0.8]))
    with pytest.raises(ModelError, match=r"W has shape 2×2, expected 3×3"):
        SRNN.from_dict(base(Gamma=[1.0, 0.8, 0.5]))
    with pytest.raises(ModelError, match=r"Gamma\[1, 1\] must be finite"):
        SRNN.from_dict(base(Gamma=[1.0, math.nan]))
    with pytest.raises(ModelError, match="Gamma"):
        SRNN.from_dict(base(Gamma=[1.0, "h1.__class__"]))
    # sigma keeps its meaning: a vector is one column (a single noise source)
    assert SRNN.from_dict(base(sigma=[0.5, 0.4])).sigma.shape == (2, 1)


HOSTILE = ["__import__('os').system('true')", "h1.__class__", "lambda: 0"]


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("where", ["observable", "activation", "Gamma", "name"])
def test_hostile_strings_everywhere(text, where, tmp_path, monkeypatch):
    """In the observable, the activation and a model file: refused, nothing evaluated."""
    monkeypatch.setattr(sp, "sympify", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    d = base()
    d[where] = [[text, 0], [0, 1]] if where == "Gamma" else text
    with pytest.raises(ModelError):
        SRNN.from_dict(d)
    # the same through a TOML model file (as a TOML basic string)
    body = {k: v for k, v in base().items() if k != where}
    lines = [f"{k} = {v!r}" for k, v in body.items()]
    lines.append(f'{where} = [["{text}", 0], [0, 1]]' if where == "Gamma"
                 else f'{where} = "{text}"')
    p = tmp_path / "hostile.toml"
    p.write_text("\n".join(lines))
    with pytest.raises(ModelError):
        SRNN.load(p)


def test_missing_and_invalid_model_files(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        SRNN.load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("Gamma = [[1.0]\n")
    with pytest.raises(ModelError, match="not valid TOML"):
        SRNN.load(bad)


def test_unstable_tanh_leak_refused():
    with pytest.raises(ModelError, match="Γ .* is not stable"):
        SRNN(Gamma=-0.5, W=1.0, C=1.0, sigma=1.0, activation="tanh")


def test_softplus_growth_checked():
    with pytest.raises(ModelError, match="not stable"):
        SRNN(Gamma=1.0, W=1.5, C=1.0, sigma=1.0, activation="softplus")
    SRNN(Gamma=1.0, W=0.5, C=1.0, sigma=1.0, activation="softplus")


def test_a_fifo_is_not_read_as_a_model_file(tmp_path):
    """Opening a FIFO for reading blocks until a writer comes: it used to hang forever."""
    import os

    from volterra_sym import SRNN
    from volterra_sym.model import ModelError

    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(ModelError, match="not a regular file"):
        SRNN.load(fifo)


def test_complex_sympy_entries_are_refused():
    """SRNN(sp.I, …) and subs(g=sp.I) raised a bare TypeError from float()."""
    import sympy as sp

    from volterra_sym import SRNN
    from volterra_sym.model import ModelError

    with pytest.raises(ModelError, match="real"):
        SRNN(sp.I, 0, 1, 1)
    with pytest.raises(ModelError, match="real"):
        SRNN("g", 0, 1, 1).subs(g=1 + 2 * sp.I)


def test_activation_typo_names_the_builtins():
    """``activation="tahn"`` said only "unknown variable 'tahn'; allowed: ['z']"; the
    refusal now suggests the close built-in and lists them (still a ModelError)."""
    with pytest.raises(ModelError) as info:
        SRNN([[1]], [[1]], [[1]], [[0.5]], [0], "tahn")
    assert "'tanh'" in str(info.value) and "softplus" in str(info.value)


@pytest.mark.parametrize("kwargs, param", [
    (dict(Gamma=[[1, 0], [0, 1]], W=[[0.5, 0.1, 0], [0, 0.5, 0]], C=[[1], [0]], sigma=0.5), "W"),
    (dict(Gamma=[[1, 0], [0, 1]], W=[[0.5, 0], [0, 0.5]], C=[[1], [0], [1]], sigma=0.5), "C"),
    (dict(Gamma=[[1, 0], [0, 1]], W=[[0.5, 0], [0, 0.5]], C=[[1], [0]], sigma=[[1, 0]]),
     "sigma"),
    (dict(Gamma=[[1, 0], [0, 1]], W=[[0.5, 0], [0, 0.5]], C=[[1, 0], [0]], sigma=0.5), "C"),
    (dict(Gamma=1, W=1.5, C=1, sigma=0.5, activation="linear"), "W"),        # Γ − W unstable
    (dict(Gamma=1, W=0.5, C=1, sigma=0.5, activation="relu"), "activation"),
    (dict(Gamma=1, W=0.5, C=1, sigma=0.5, activation="tanhh"), "activation"),
    (dict(Gamma=1, W=0.5, C=1, sigma=0.5, activation="z**3"), "activation"),
    (dict(Gamma=1, W=0.5, C=1, sigma=0.5, name=5), "name"),
])
def test_model_errors_name_the_parameter(kwargs, param):
    """Shape, stability, activation and name refusals carried ``param=None``; ``z**3`` was
    refused as an unstable ``Γ − W·diag(3e6)`` instead of as faster than linear."""
    with pytest.raises(ModelError) as exc:
        SRNN(**kwargs)
    assert exc.value.param == param, exc.value
    if kwargs.get("activation") == "z**3":
        assert "grows faster than linearly" in str(exc.value)


def test_empty_network_and_size_mismatch_say_what_n_is():
    """``SRNN([], [], [], 0.5)`` blamed sigma's shape (1×1, expected 0×any); a C of 2 rows
    beside scalar Γ, W did not say where n = 1 came from."""
    with pytest.raises(ModelError, match="n ≥ 1 units") as exc:
        SRNN([], [], [], 0.5)
    assert exc.value.param == "W"
    with pytest.raises(ModelError, match=r"C has shape 2×1, expected 1×any \(n = 1 units, "
                                         r"from Gamma, W and b\)") as exc:
        SRNN(1.0, 0.5, [[1], [0]], 0.5)
    assert exc.value.param == "C"


def test_a_tiny_positive_leak_is_refused_without_calling_it_non_positive():
    """``Γ = 1e-12`` is below the stability margin: the refusal names the margin rather
    than calling the positive eigenvalue non-positive (a user's report)."""
    from volterra_sym.model import ModelError

    with pytest.raises(ModelError, match=r"at most 1e-12") as exc:
        SRNN(Gamma=[[1e-12]], W=[[0.0]], C=[[1.0]], sigma=[[0.5]], b=[0.0],
             activation="tanh")
    assert "non-positive" not in str(exc.value) and exc.value.param == "Gamma"
