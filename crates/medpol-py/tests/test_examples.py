"""The examples run, and say what they are written to show."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from medpol_artifact import Artifact

EXAMPLES = Path(__file__).resolve().parents[1] / "python" / "examples"


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def table() -> ModuleType:
    pytest.importorskip("pandas")
    return _module("patients_table")


def test_columns_per_fact(table: ModuleType) -> None:
    artifact = Artifact.load(table.ARTIFACT)
    out = table.decide_columns(artifact, table.example_patients())
    assert list(out["member"]) == ["M-1", "M-2", "M-3", "M-4"]
    assert list(out["coverage_result"].iloc[:3]) == ["rule", "pending", "rule"]
    assert out["coverage"].iloc[0] == "medically_necessary"
    assert out["coverage"].iloc[2] == "medicare_lcd"
    assert "conservative_care" in out["coverage_needed"].iloc[1].split(", ")
    assert out["error"].iloc[3].startswith("missing_unit:")
    assert out["error"].iloc[:3].isna().all()


def test_json_column_agrees_with_columns(table: ModuleType) -> None:
    artifact = Artifact.load(table.ARTIFACT)
    patients = table.example_patients()
    by_columns = table.decide_columns(artifact, patients)
    by_json = table.decide_json_column(artifact, table.as_json_column(patients))
    for name in artifact.decisions:
        for column in (name, f"{name}_result", f"{name}_needed"):
            assert by_json[column].equals(by_columns[column]), column
    assert by_json["error"].equals(by_columns["error"])


def test_the_script_runs() -> None:
    pytest.importorskip("pandas")
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "patients_table.py")], capture_output=True, text=True, check=True
    )
    assert "medically_necessary" in done.stdout and "missing_unit" in done.stdout
