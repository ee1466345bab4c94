"""slerir.paths: data and weights come from an argument, else an environment variable, else a folder
relative to the working directory (never only from the package's own location)."""
from __future__ import annotations

from pathlib import Path

import pytest

from slerir.paths import data_root_candidates, resolve_data_root, resolve_weights


def test_data_root_argument_then_env_then_working_directory(tmp_path, monkeypatch):
    (tmp_path / "arg").mkdir()
    (tmp_path / "env").mkdir()
    (tmp_path / "shared" / "datasets").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.setenv("SLERIR_DATA", str(tmp_path / "env"))
    assert resolve_data_root(tmp_path / "arg") == (tmp_path / "arg").resolve()
    assert resolve_data_root() == (tmp_path / "env").resolve()
    monkeypatch.delenv("SLERIR_DATA")
    assert resolve_data_root() == (tmp_path / "shared" / "datasets").resolve()  # ../shared/datasets from the cwd
    assert data_root_candidates()[0] == Path.cwd() / ".." / "shared" / "datasets"


def test_data_root_errors_name_where_it_looked(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="--data-root") as e:
        resolve_data_root(tmp_path / "nope")
    assert "nope" in str(e.value) and "SLERIR_DATA" in str(e.value)
    monkeypatch.setenv("SLERIR_DATA", str(tmp_path / "gone"))  # a set variable is not silently passed over
    with pytest.raises(FileNotFoundError, match="gone"):
        resolve_data_root()


def test_weights_argument_then_env_and_no_builtin_default(tmp_path, monkeypatch):
    monkeypatch.delenv("SLERIR_WEIGHTS", raising=False)
    with pytest.raises(FileNotFoundError, match="SLERIR_WEIGHTS"):
        resolve_weights()
    monkeypatch.setenv("SLERIR_WEIGHTS", str(tmp_path / "w"))
    assert resolve_weights() == tmp_path / "w"
    assert resolve_weights(tmp_path / "x") == tmp_path / "x"
