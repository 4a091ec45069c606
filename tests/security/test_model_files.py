"""Broken and hostile model files: every one is refused by ``SRNN.load`` with a
``ModelError`` (an ``InvalidInputError``) that names the file and the condition, quickly,
without reading an endless file to its end."""

import os
import time
from pathlib import Path

import pytest

from volterra_sym import SRNN
from volterra_sym.cli import builtin_models
from volterra_sym.errors import InvalidInputError
from volterra_sym.model import ModelError

TANH1D = builtin_models()["tanh1d"].read_text(encoding="utf-8")
NAMELESS = "\n".join(line for line in TANH1D.splitlines()
                     if not line.startswith(("name", "#")))


def refused(path, condition: str) -> ModelError:
    t0 = time.perf_counter()
    with pytest.raises(ModelError) as info:
        SRNN.load(path)
    assert time.perf_counter() - t0 < 10
    assert isinstance(info.value, InvalidInputError)
    assert condition in str(info.value), str(info.value)
    return info.value


def test_model_error_is_the_projects_invalid_input_error():
    assert issubclass(ModelError, InvalidInputError) and issubclass(ModelError, ValueError)


@pytest.mark.parametrize("content, condition", [
    (b"\xef\xbb\xbf" + TANH1D.encode(), "byte-order mark"),
    (TANH1D.encode("utf-16"), "UTF-16"),
    (TANH1D.encode("utf-16-be"), "binary data (a NUL byte at offset 0)"),
    (bytes(range(256)), "binary data"),
    (("# café\n" + NAMELESS).encode("latin-1"), "is not UTF-8 text (byte 0xe9 at offset 5)"),
    (b"Gamma = [[1]]\nW = [[", "is not valid TOML"),
    (b"a = " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested too deeply"),
    (b"a = " + b"{b=" * 100_000 + b"}" * 100_000 + b"\n", "nested too deeply"),
])
def test_undecodable_or_unparsable_files(tmp_path, content, condition):
    path = tmp_path / "model.toml"
    path.write_bytes(content)
    err = refused(path, condition)
    assert repr(str(path)) in str(err) and err.param == "path"


@pytest.mark.parametrize("text", [
    ".".join(["a"] * 100_000) + " = 1\n",                  # 26 s for 20,000 parts in tomllib
    "[" + ".".join(['"a"'] * 100_000) + "]\n",
    "[[" + ".".join(["'a'"] * 100_000) + "]]\n",
    "x = {" + " . ".join(['"\\""'] * 100_000) + " = 1}\n",  # escaped quotes, blanks
])
def test_long_dotted_keys_are_refused_before_tomllib_goes_quadratic(tmp_path, text):
    path = tmp_path / "model.toml"
    path.write_text(text)
    refused(path, "more than 32 parts")


def test_dotted_runs_in_strings_comments_and_floats_do_not_count(tmp_path):
    body = NAMELESS + '\n# ' + ".".join(["a"] * 100) + "\nname = '" + "x" * 10 + "'\n"
    path = tmp_path / "model.toml"
    path.write_text(body)
    assert SRNN.load(path).name == "xxxxxxxxxx"
    assert not SRNN._has_long_dotted_key("x = [" + "0.5, " * 10_000 + "]", 32)
    assert not SRNN._has_long_dotted_key('x = "' + ".".join("a" * 40) + '"', 32)
    assert SRNN._has_long_dotted_key(".".join("a" * 33) + " = 1", 32)
    assert not SRNN._has_long_dotted_key(".".join("a" * 33) + " = 1", 33)


def test_an_endless_device_is_refused_before_it_is_read():
    """A device is not a regular file: refused before reading (a FIFO would block)."""
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    refused("/dev/zero", "is not a regular file (a pipe, socket or device)")


def test_size_limit_and_max_bytes(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text(NAMELESS + "\n" + "#" * SRNN.MAX_FILE_BYTES + "\n")
    refused(path, "larger than 1 MiB")
    assert SRNN.load(path, max_bytes=2 * SRNN.MAX_FILE_BYTES).n == 1
    with pytest.raises(ModelError, match="max_bytes must be a positive integer"):
        SRNN.load(path, max_bytes=0)


def test_paths_that_cannot_be_opened(tmp_path):
    refused(tmp_path / "missing.toml", "does not exist")
    (tmp_path / "dir.toml").mkdir()
    refused(tmp_path / "dir.toml", "is a directory")
    refused(tmp_path, "is a directory")
    refused(str(tmp_path / ("x" * 300)) + ".toml", "its path is too long")
    refused("/".join(["abc"] * 2000) + ".toml", "")
    refused("a\0b.toml", "is not a valid path")
    refused(5, "is not a valid path")


def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.toml"
    path.write_text(NAMELESS)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who can read any file")
        refused(path, "permission denied")
    finally:
        path.chmod(0o600)


def test_long_path_message_is_shortened(tmp_path):
    err = refused(str(tmp_path / ("y" * 300)) + ".toml", "too long")
    assert len(str(err)) < 300 and "…" in str(err)


@pytest.mark.parametrize("filename, name", [
    ("my.model.toml", "my_model"),
    ("tanh 1d (copy).toml", "tanh 1d _copy"),
    ("__init__.toml", "init"),
    ("....toml", "model"),
    ("ｈ１.toml", "model"),
    ("-x-.toml", "x"),
    ("a" * 200 + ".toml", "a" * 80),
])
def test_nameless_file_gets_a_valid_name_from_its_stem(tmp_path, filename, name):
    path = tmp_path / filename
    path.write_text(NAMELESS)
    model = SRNN.load(path)
    assert model.name == name
    assert model.n == 1 and model.activation.name == "tanh"


def test_an_explicit_invalid_name_is_still_refused(tmp_path):
    path = tmp_path / "model.toml"
    path.write_text(NAMELESS + '\nname = "a.b"\n')
    refused(path, "name must be a short plain label")


@pytest.mark.parametrize("key, value, condition", [
    ("Gamma", "[[1979-05-27]]", "Gamma[0, 0] must be a number or an expression, got date"),
    ("Gamma", "{a = 1}", "must be a number or an expression, got dict"),
    ("W", '[["1e400"]]', "outside the float range"),
    ("W", '[["sqrt(-1)"]]', "not real"),
    ("observable", '"ｈ１"', "character 'ｈ'"),
    ("activation", '"tanh(z) # x"', "character '#'"),
    ("activation", "[1, 2]", "activation"),
    ("name", "5", "name must be a short plain label"),
])
def test_bad_values_name_the_file_and_the_key(tmp_path, key, value, condition):
    lines = [line for line in NAMELESS.splitlines() if not line.startswith(key + " ")]
    path = tmp_path / "model.toml"
    path.write_text("\n".join(lines) + f"\n{key} = {value}\n")
    err = refused(path, condition)
    assert repr(str(path)) in str(err)


def test_builtin_models_still_load():
    for name, path in builtin_models().items():
        assert SRNN.load(Path(path)).name == name
