"""The conformance vectors of tests/conformance (its README describes them), run on the bindings.

Every vector file found at run time is run, every case of it, and every field a case expects is
checked exactly: a result's decision, result, outcome, rule, rules, outcomes, needed, leaves,
path and documentation; a bad-facts error's kind and fact; a refused artifact's load error
kind. A generated file's results are compared whole; a hand-written case is held to the
fields it gives for each decision it names, as tests/conformance.rs holds the reference.
Each file's cases run three ways: one `decide` per case on the facts' JSON text, one
`decide_batch` per artifact (the batch must agree case for case, bad rows included), and
`decide` on the facts as a dict (see `_as_dict` for the cases that have one).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import medpol_artifact as m

CONFORMANCE = Path(
    os.environ.get(
        "MEDPOL_CONFORMANCE_DIR",
        Path(__file__).resolve().parents[3] / "tests" / "conformance",
    )
)
VECTOR_FILES = sorted((CONFORMANCE / "vectors").glob("*.json"))

def test_there_are_vectors() -> None:
    assert VECTOR_FILES, f"no vector files in {CONFORMANCE / 'vectors'}"


def _suite(path: Path) -> dict[str, Any]:
    suite: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert suite["cases"], f"{path.name} has no cases"
    return suite


class _Artifacts:
    """Each artifact loaded once per file."""

    def __init__(self) -> None:
        self._loaded: dict[str, m.Artifact] = {}

    def get(self, relative: str) -> m.Artifact:
        if relative not in self._loaded:
            self._loaded[relative] = m.Artifact.load(CONFORMANCE / relative)
        return self._loaded[relative]


def _unknown(case: dict[str, Any]) -> str:
    return str(case.get("options", {}).get("unknown_facts", "reject"))


def _compare_results(
    expected: list[dict[str, Any]], actual: list[m.DecisionResult], generated: bool
) -> list[str]:
    """A generated case expects every result whole, in the artifact's order; a hand-written
    one, each decision it names on the fields it gives (as tests/conformance.rs compares)."""
    got = [r.to_dict() for r in actual]
    problems = [p for r in actual for p in _attributes_agree(r)]
    if generated:
        if got != expected:
            problems.append(f"results {got}, expected {expected}")
        return problems
    by_name = {r["decision"]: r for r in got}
    for want in expected:
        have = by_name.get(want["decision"])
        if have is None:
            problems.append(f"no result of decision {want['decision']!r}")
            continue
        for key, value in want.items():
            if have.get(key) != value:
                problems.append(f"{want['decision']}: `{key}` is {have.get(key)!r}, expected {value!r}")
    return problems


def _attributes_agree(result: m.DecisionResult) -> list[str]:
    """The attributes say what `to_dict` says (an empty list or None for a field it leaves out)."""
    d = result.to_dict()
    attributes: dict[str, Any] = {
        "decision": result.decision,
        "result": result.result,
        "outcome": result.outcome,
        "rule": result.rule,
        "rules": result.rules,
        "outcomes": result.outcomes,
        "needed": result.needed,
        "leaves": result.leaves,
        "path": [{"node": s.node, "holds": s.holds} for s in result.path],
        "documentation": result.documentation,
    }
    problems = []
    for key, value in attributes.items():
        in_dict = d.get(key, [] if isinstance(value, list) else None)
        if value != in_dict:
            problems.append(f"{result.decision}: attribute `{key}` is {value!r}, the dict says {in_dict!r}")
    return problems


def _check(case: dict[str, Any], generated: bool, outcome: list[m.DecisionResult] | m.FactError | m.RowError) -> list[str]:
    expect = case["expect"]
    if "error" in expect:
        if isinstance(outcome, list):
            return [f"decided {[r.to_dict() for r in outcome]}, expected error {expect['error']}"]
        got = {"kind": outcome.kind, "fact": outcome.fact}
        return [] if got == expect["error"] else [f"error {got}, expected {expect['error']}"]
    if not isinstance(outcome, list):
        return [f"error {outcome.kind} ({outcome.fact}): {outcome}, expected results"]
    return _compare_results(expect["decisions"], outcome, generated)


def _report(path: Path, failures: list[str]) -> None:
    if failures:
        shown = "\n".join(failures[:30])
        more = f"\n... and {len(failures) - 30} more" if len(failures) > 30 else ""
        pytest.fail(f"{path.name}: {len(failures)} failures\n{shown}{more}", pytrace=False)


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.stem)
def test_vectors_one_call_per_case(path: Path) -> None:
    suite = _suite(path)
    artifacts = _Artifacts()
    failures: list[str] = []
    for case in suite["cases"]:
        name = f"{suite['suite']}/{case['name']}"
        if "load_error" in case["expect"]:
            try:
                m.Artifact.load(CONFORMANCE / case["artifact"])
            except m.LoadError as e:
                if e.kind != case["expect"]["load_error"]:
                    failures.append(f"{name}: load error {e.kind} ({e}), expected {case['expect']['load_error']}")
            else:
                failures.append(f"{name}: loaded, expected load error {case['expect']['load_error']}")
            continue
        artifact = artifacts.get(case["artifact"])
        outcome: list[m.DecisionResult] | m.FactError
        try:
            outcome = artifact.decide(case["facts"], unknown_facts=_unknown(case))
        except m.FactError as e:
            outcome = e
        failures.extend(f"{name}: {p}" for p in _check(case, suite.get("generated", True), outcome))
    _report(path, failures)


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.stem)
def test_vectors_in_batches(path: Path) -> None:
    suite = _suite(path)
    artifacts = _Artifacts()
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for case in suite["cases"]:
        if "load_error" not in case["expect"]:
            groups.setdefault((case["artifact"], _unknown(case)), []).append(case)
    failures: list[str] = []
    for (artifact_path, unknown), cases in groups.items():
        artifact = artifacts.get(artifact_path)
        rows = artifact.decide_batch([c["facts"] for c in cases], unknown_facts=unknown)
        assert len(rows) == len(cases)
        for index, (case, row) in enumerate(zip(cases, rows)):
            if isinstance(row, m.RowError):
                assert row.index == index
            failures.extend(f"{suite['suite']}/{case['name']}: {p}" for p in _check(case, suite.get("generated", True), row))
    _report(path, failures)


def _as_dict(text: str) -> dict[str, Any] | None:
    """The facts as a dict that the bindings write back as JSON text the artifact reads alike:
    when the text is an object with no key given twice, and no integer past 64 bits (which the
    artifact reads from JSON text as the nearest double, and from a dict with every digit).
    Other numbers are floats, as the artifact reads a JSON number."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        if len(set(keys)) != len(keys):
            raise ValueError("a key given twice")
        return dict(items)

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    def int64(digits: str) -> int:
        value = int(digits)
        if not -(2**63) <= value < 2**63:
            raise ValueError("an integer past 64 bits")
        return value

    try:
        value = json.loads(text, parse_constant=no_constant, parse_int=int64, object_pairs_hook=pairs)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.stem)
def test_vectors_as_dicts(path: Path) -> None:
    suite = _suite(path)
    artifacts = _Artifacts()
    failures: list[str] = []
    for case in suite["cases"]:
        if "load_error" in case["expect"]:
            continue
        facts = _as_dict(case["facts"])
        if facts is None:
            continue
        artifact = artifacts.get(case["artifact"])
        outcome: list[m.DecisionResult] | m.FactError
        try:
            outcome = artifact.decide(facts, unknown_facts=_unknown(case))
        except m.FactError as e:
            outcome = e
        failures.extend(f"{suite['suite']}/{case['name']} (as a dict): {p}" for p in _check(case, suite.get("generated", True), outcome))
    _report(path, failures)
