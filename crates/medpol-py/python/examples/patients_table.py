"""Deciding for a table of patients with pandas.

Policy 484 (vertebral augmentation, `policies/bcbsma-484.medpol`), compiled to
`tests/conformance/artifacts/bcbsma-484.json`. Two shapes of table:

- `decide_columns`: a column per fact. Missing values (None, or the NaN pandas puts in an empty
  cell of a number column) are left out of the patient's facts, so the fact is not known; the
  artifact then says which missing facts the result waits for.
- `decide_json_column`: a column holding each patient's facts as JSON text, as a claims feed or
  a JSON Lines file gives them; the text is read exactly.

Either adds, for each decision asked, a column of outcomes (None when there is none), of
result kinds (`rule`, `otherwise`, `pending`, ...) and of the facts still needed, and an
`error` column for rows whose facts are bad (the rest of the table is still decided).

    python patients_table.py [ARTIFACT]
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from medpol_artifact import Artifact, DecisionResult, RowError

ARTIFACT = Path(__file__).resolve().parents[4] / "tests" / "conformance" / "artifacts" / "bcbsma-484.json"


def _known(value: Any) -> bool:
    """Whether a cell holds a value: not None, pandas' NA or NaT, nor a float NaN."""
    if value is None or value is pd.NA or value is pd.NaT:
        return False
    return not (isinstance(value, float) and math.isnan(value))


def _add_results(table: pd.DataFrame, rows: list[list[DecisionResult] | RowError], decisions: list[str]) -> pd.DataFrame:
    out = table.copy()
    for i, name in enumerate(decisions):
        results = [row[i] if isinstance(row, list) else None for row in rows]
        out[name] = [r.outcome if r else None for r in results]
        out[f"{name}_result"] = [r.result if r else None for r in results]
        out[f"{name}_needed"] = [", ".join(r.needed) if r else None for r in results]
    out["error"] = [f"{row.kind}: {row.message}" if isinstance(row, RowError) else None for row in rows]
    return out


def decide_columns(artifact: Artifact, patients: pd.DataFrame) -> pd.DataFrame:
    """Decides every decision for a table with a column per fact (other columns are kept and
    not read as facts)."""
    facts = [f.name for f in artifact.facts if f.name in patients.columns]
    rows = [{str(k): v for k, v in record.items() if _known(v)} for record in patients[facts].to_dict("records")]
    return _add_results(patients, artifact.decide_batch(rows), artifact.decisions)


def decide_json_column(artifact: Artifact, patients: pd.DataFrame, column: str = "facts") -> pd.DataFrame:
    """Decides every decision for a table whose `column` holds each patient's facts as JSON."""
    return _add_results(patients, artifact.decide_batch(patients[column].tolist()), artifact.decisions)


def as_json_column(patients: pd.DataFrame, keep: str = "member") -> pd.DataFrame:
    """The same patients with their facts as JSON text in one column `facts` (the cells that
    hold a value), beside the column `keep`."""
    records = patients.drop(columns=keep).to_dict("records")
    facts = [json.dumps({k: v for k, v in record.items() if _known(v)}) for record in records]
    return pd.DataFrame({keep: patients[keep], "facts": facts})


def example_patients() -> pd.DataFrame:
    """Four members: decided by a rule, waiting for facts, decided without them, bad facts."""
    return pd.DataFrame(
        {
            "member": ["M-1", "M-2", "M-3", "M-4"],
            "facility_procedures": [["0PS33ZZ"], ["0PS33ZZ"], ["0PS33ZZ"], ["0PS33ZZ"]],
            "procedures": [[], [], [], []],
            "product": ["hmo", "hmo", "medicare_hmo", "hmo"],
            "diagnoses": [["M80.08XA"], ["M80.08XA"], None, ["M80.08XA"]],
            "symptomatic": [True, True, None, True],
            "pain_from_nonhealing_fracture": [True, None, None, True],
            "prophylactic": [False, False, None, False],
            # A number column would hold NaN for an empty cell; durations are text with a unit.
            "conservative_care": ["6 weeks", None, None, "6"],
        }
    )


def main() -> None:
    artifact = Artifact.load(sys.argv[1] if len(sys.argv) > 1 else ARTIFACT)
    patients = example_patients()
    decided = decide_columns(artifact, patients)
    from_json = decide_json_column(artifact, as_json_column(patients))
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.max_colwidth", 50):
        print(decided[["member", "coverage", "coverage_result", "coverage_needed", "error"]])
        print(from_json[["member", "coverage", "prior_auth", "covered_diagnosis", "error"]])

if __name__ == "__main__":
    main()
