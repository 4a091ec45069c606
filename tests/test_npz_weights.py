"""Model weights from ``.npz`` files (``weights = "net.npz"`` in a TOML model file):
the same model as written in TOML, generic keys, and every broken or hostile archive refused
with a ModelError (an InvalidInputError) naming the file and the key."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from volterra_sym import SRNN
from volterra_sym.errors import InvalidInputError
from volterra_sym.model import ModelError
from volterra_sym.model.weights import MAX_ENTRIES, load_weights

HEAD = 'name = "net"\nactivation = "tanh"\n'
GOOD = {"Gamma": np.eye(2), "W": np.array([[0.8, -0.6], [0.6, 0.5]]), "b": np.array([0.1, -0.2]),
        "C": np.array([[1.0], [0.5]]), "sigma": 0.6 * np.eye(2)}


def write_model(tmp: Path, arrays: dict | None = None, toml_extra: str = "",
                weights: str = "net.npz") -> Path:
    if arrays is not None:
        np.savez(tmp / weights, **arrays)
    path = tmp / "net.toml"
    path.write_text(HEAD + f'weights = "{weights}"\n' + toml_extra)
    return path


def refused(path: Path, *fragments: str, param: str | None = None) -> ModelError:
    with pytest.raises(ModelError) as info:
        SRNN.load(path)
    assert isinstance(info.value, InvalidInputError)
    for frag in fragments:
        assert frag in str(info.value), str(info.value)
    if param is not None:
        assert info.value.param == param, info.value.param
    return info.value


def test_npz_weights_give_the_same_model_as_toml(tmp_path):
    model = SRNN.load(write_model(tmp_path, GOOD))
    toml = tmp_path / "plain.toml"
    toml.write_text(HEAD + "Gamma = [[1, 0], [0, 1]]\nW = [[0.8, -0.6], [0.6, 0.5]]\n"
                    "b = [0.1, -0.2]\nC = [[1.0], [0.5]]\nsigma = [[0.6, 0], [0, 0.6]]\n")
    assert model == SRNN.load(toml)
    assert model.m == 1 and float(model.W[0, 1]) == -0.6


def test_npz_and_toml_keys_mix_and_scalars_keep_their_meaning(tmp_path):
    arrays = {"W": GOOD["W"], "C": GOOD["C"], "Gamma": np.float64(1.0)}  # 0-d: γ·I
    path = write_model(tmp_path, arrays, "sigma = 0.6\nb = [0.1, -0.2]\n")
    model = SRNN.load(path)
    assert model.Gamma.tolist() == [[1, 0], [0, 1]] and float(model.sigma[1, 1]) == 0.6


def test_weights_in_a_subfolder_and_integer_arrays(tmp_path):
    (tmp_path / "w").mkdir()
    np.savez(tmp_path / "w" / "net.npz", **{**GOOD, "Gamma": np.eye(2, dtype=np.int64)})
    (tmp_path / "net.toml").write_text(HEAD + 'weights = "w/net.npz"\n')
    assert SRNN.load(tmp_path / "net.toml").Gamma[1, 1] == 1


def test_generic_keys_are_returned_for_the_model_class_to_validate(tmp_path):
    """The loader is generic (Noisy RNN keys B, beta, gamma load the same way); SRNN then
    refuses keys it does not know, naming them and the weights file."""
    np.savez(tmp_path / "noisy.npz", B=np.ones((2, 3)), beta=np.array(0.5), gamma=np.ones(2))
    got = load_weights("noisy.npz", tmp_path)
    assert sorted(got) == ["B", "beta", "gamma"] and got["beta"] == 0.5
    assert got["B"].shape == (2, 3)
    path = write_model(tmp_path, {**GOOD, "Beta": np.array(0.5)})
    refused(path, "unknown model keys ['Beta']", "weights file 'net.npz'")
    path = write_model(tmp_path, {**GOOD, "beta": np.array(0.5)})
    refused(path, "needs the key B", "weights file 'net.npz'", param="beta")


@pytest.mark.parametrize("arrays, fragments, param", [
    ({k: v for k, v in GOOD.items() if k != "W"}, ["lacks required keys ['W']", "net.npz"],
     None),
    ({**GOOD, "W": np.ones((2, 3))}, ["W must be square", "net.npz"], None),
    ({**GOOD, "C": np.ones((3, 1))}, ["C has shape 3×1, expected 2×any"], None),
    ({**GOOD, "W": np.array([[0.8, np.nan], [0.6, 0.5]])}, ["'W' contains NaN", "[0, 1]"],
     "W"),
    ({**GOOD, "b": np.array([np.inf, 0.0])}, ["'b' contains NaN or inf"], "b"),
    ({**GOOD, "W": np.ones((2, 2)) + 0j}, ["'W' must hold real numbers", "complex"], "W"),
    ({**GOOD, "b": np.array([True, False])}, ["'b' must hold real numbers", "bool"], "b"),
    ({**GOOD, "W": np.ones((2, 2, 1))}, ["at most 2 dimensions"], "W"),
    ({**GOOD, "Gamma": -np.eye(2)}, ["is not stable", "weights file 'net.npz'"], None),
])
def test_bad_arrays_are_refused_naming_the_key(tmp_path, arrays, fragments, param):
    err = refused(write_model(tmp_path, arrays), "net.toml", *fragments, param=param)
    assert err is not None


def test_pickled_object_arrays_are_refused_without_unpickling(tmp_path):
    class Boom:
        def __reduce__(self):  # would run on unpickling
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    np.savez(tmp_path / "net.npz", **GOOD, extra=np.array([Boom()], dtype=object))
    path = write_model(tmp_path, None)
    refused(path, "'extra' is an object array", "pickled data is refused", param="extra")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("ref, fragment", [
    ("missing.npz", "does not exist"),
    ("/etc/passwd.npz", "not absolute"),
    ("../net.npz", "may not contain '..'"),
    ("sub/../../net.npz", "may not contain '..'"),
    ("net.txt", "must name an .npz file"),
    ("", "must be a relative path"),
])
def test_bad_paths_are_refused(tmp_path, ref, fragment):
    path = tmp_path / "net.toml"
    path.write_text(HEAD + f'weights = "{ref}"\n')
    refused(path, fragment, param="weights")


def test_weights_must_be_a_string(tmp_path):
    path = tmp_path / "net.toml"
    path.write_text(HEAD + "weights = 3\n")
    refused(path, "must be a relative path", param="weights")


def test_a_symlink_out_of_the_folder_is_refused(tmp_path):
    outside = tmp_path / "outside"
    inside = tmp_path / "model"
    outside.mkdir()
    inside.mkdir()
    np.savez(outside / "net.npz", **GOOD)
    (inside / "net.npz").symlink_to(outside / "net.npz")
    (inside / "net.toml").write_text(HEAD + 'weights = "net.npz"\n')
    refused(inside / "net.toml", "outside the model file's folder", param="weights")


def test_a_directory_or_garbage_is_not_an_archive(tmp_path):
    (tmp_path / "dir.npz").mkdir()
    refused(write_model(tmp_path, None, weights="dir.npz"), "is not a regular file")
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    refused(write_model(tmp_path, None, weights="junk.npz"), "not a readable .npz archive",
            param="weights")
    np.savez(tmp_path / "empty.npz")
    refused(write_model(tmp_path, None, weights="empty.npz"), "holds no arrays")


def test_a_key_in_both_places_is_refused(tmp_path):
    refused(write_model(tmp_path, GOOD, "W = [[0.0, 0.0], [0.0, 0.0]]\n"),
            "given both in the model file and in the weights file", param="W")


def test_a_huge_declared_shape_is_refused_before_reading(tmp_path):
    """A .npy header declaring 10^10 entries (a few bytes of data) is refused from the
    header alone: nothing of that size is allocated."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": (100_000, 100_000)})
    with zipfile.ZipFile(tmp_path / "net.npz", "w") as zf:
        zf.writestr("W.npy", buf.getvalue() + b"\x00" * 64)
    refused(write_model(tmp_path, None), "declares shape (100000, 100000)",
            f"more than {MAX_ENTRIES} entries", param="W")


def test_a_non_array_member_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "net.npz", "w") as zf:
        zf.writestr("notes.txt", "hello")
    refused(write_model(tmp_path, None), "'notes.txt' is not a top-level .npy array",
            param="weights")


# ---------------------------------------------------------------------- Noisy RNN weights
NOISY_B = [[0, 0.5, 0, 0.2], [0, 0, 0.4, 0], [0.1, 0, 0, 0.3], [0, 0.2, 0, 0]]


def test_noisy_rnn_weights_load_from_npz_as_the_builtin_model(tmp_path):
    """A Noisy RNN's trained ``B, beta, gamma`` (Γ = −A(B, β, γ)) with ``W, b, C`` from an
    archive, ``sigma1, sigma2`` in the TOML: the built-in ``noisy_rnn4`` (whose Γ was
    written out by hand) and :meth:`SRNN.noisy_rnn` give the same model."""
    from volterra_sym.model.catalogue import load_model

    ref = load_model("noisy_rnn4")
    arrays = {"B": np.array(NOISY_B), "beta": np.float64(0.8), "gamma": np.float64(1.5),
              "W": np.array(ref.W.tolist(), dtype=float),
              "b": np.array([0.1, -0.1, 0.2, 0.0]),
              "C": np.array(ref.C.tolist(), dtype=float)}
    path = write_model(tmp_path, arrays, 'sigma1 = 0.3\nsigma2 = 0.1\nobservable = "h1"\n')
    model = SRNN.load(path)
    assert model.input == "activation"                      # the Noisy RNN's default
    assert model.Gamma == ref.Gamma and model.sigma == ref.sigma and model.W == ref.W
    direct = SRNN.noisy_rnn(NOISY_B, arrays["W"], arrays["C"], beta=0.8, gamma=1.5,
                            b=arrays["b"], sigma1=0.3, sigma2=0.1)
    assert model.Gamma == direct.Gamma and model.input == direct.input


def test_noisy_rnn_keys_in_toml_with_defaults_and_explicit_input(tmp_path):
    path = tmp_path / "n.toml"
    path.write_text('name = "n"\nactivation = "tanh"\nB = [[0, 1], [0, 0]]\n'
                    'W = [[0.5, 0], [0, 0.5]]\nC = [[1.0], [0.0]]\nsigma = 0.3\n'
                    'input = "additive"\n')
    model = SRNN.load(path)
    # β = 1/2, γ = 1: A = ½(B − Bᵀ) + ½(B + Bᵀ) − I = B − I
    assert model.Gamma.tolist() == [[1, -1], [0, 1]] and model.input == "additive"


@pytest.mark.parametrize("extra, param, fragment", [
    ("Gamma = [[1, 0], [0, 1]]\n", "Gamma", "not both"),
    ("beta = 'h1'\n", "beta", "beta"),
    ("gamma = 'nan'\n", "gamma", "gamma"),
])
def test_noisy_rnn_keys_refused_with_the_key(tmp_path, extra, param, fragment):
    path = tmp_path / "n.toml"
    path.write_text('name = "n"\nB = [[0, 1], [0, 0]]\nW = [[0.5, 0], [0, 0.5]]\n'
                    'C = [[1.0], [0.0]]\nsigma = 0.3\n' + extra)
    refused(path, fragment, param=param)


def test_beta_without_B_is_refused(tmp_path):
    path = tmp_path / "n.toml"
    path.write_text('name = "n"\nGamma = 1\nW = [[0.5]]\nC = [[1.0]]\nsigma = 0.3\n'
                    'beta = 0.3\n')
    refused(path, "needs the key B", param="beta")


def test_non_square_B_is_refused(tmp_path):
    path = write_model(tmp_path, {"B": np.ones((2, 3)), "W": GOOD["W"], "C": GOOD["C"],
                                  "sigma": 0.5})
    refused(path, "B", param="B")
