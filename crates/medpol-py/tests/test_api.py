"""The Python API of the bindings: loading, facts as text and as dicts, results, batches, errors."""

from __future__ import annotations

import datetime
import gc
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

import medpol_artifact as m
from medpol_artifact import Artifact, DecisionResult, FactError, LoadError, RowError

ROOT = Path(__file__).resolve().parents[3]
TINY = ROOT / "tests" / "cases" / "build" / "tiny.json"
EDGE = ROOT / "tests" / "conformance" / "artifacts" / "edge"


@pytest.fixture(scope="module")
def tiny() -> Artifact:
    return Artifact.load(TINY)


@pytest.fixture(scope="module")
def exact() -> Artifact:
    return Artifact.load(EDGE / "exact.json")


@pytest.fixture(scope="module")
def dates_lists() -> Artifact:
    return Artifact.load(EDGE / "dates-and-lists.json")


# Loading


def test_load_and_describe(tiny: Artifact) -> None:
    assert tiny.policy_id == "tiny"
    assert tiny.decisions == ["coverage"]
    assert tiny.format == "medpol.decision/2"
    assert tiny.hash.startswith("sha256:")
    care, hospitalized = tiny.facts
    assert (care.name, care.type, care.unit) == ("care", "duration", "weeks")
    assert (hospitalized.name, hospitalized.type, hospitalized.unit) == ("hospitalized", "bool", None)
    assert care.read and not care.derived and care.fields == []
    assert repr(tiny) == "Artifact(policy_id='tiny', decisions=['coverage'])"


def test_from_json_str_and_bytes(tiny: Artifact) -> None:
    text = TINY.read_text(encoding="utf-8")
    assert Artifact.from_json(text).to_json() == tiny.to_json()
    assert Artifact.from_json(text.encode()).policy_id == "tiny"
    assert Artifact.load(str(TINY)).policy_id == "tiny"


def test_load_errors_have_kinds() -> None:
    text = TINY.read_text(encoding="utf-8")
    doc = json.loads(text)
    with pytest.raises(LoadError) as e:
        Artifact.from_json("{not json")
    assert e.value.kind == "syntax"
    with pytest.raises(LoadError) as e:
        Artifact.from_json(json.dumps({**doc, "format": "medpol.decision/9"}))
    assert e.value.kind == "format"
    with pytest.raises(LoadError) as e:
        Artifact.from_json(json.dumps({**doc, "hash": "sha256:" + "0" * 64}))
    assert e.value.kind == "hash"
    with pytest.raises(LoadError) as e:
        Artifact.from_json(b"\xff\xfe")
    assert e.value.kind == "syntax"
    assert isinstance(e.value, ValueError)


def test_load_of_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as e:
        Artifact.load(tmp_path / "none.json")
    assert e.value.filename == str(tmp_path / "none.json")


def test_from_json_refuses_other_types() -> None:
    with pytest.raises(TypeError):
        Artifact.from_json(42)  # type: ignore[arg-type]


# Deciding


def test_decide_all_and_one(tiny: Artifact) -> None:
    results = tiny.decide('{"care": "8 weeks", "hospitalized": false}')
    assert [r.decision for r in results] == ["coverage"]
    (r,) = results
    assert (r.result, r.outcome, r.rule, r.is_decided) == ("rule", "covered", "failed_care", True)
    assert r.needed == [] and r.rules == [] and r.outcomes == []
    assert len(r.leaves) == 1
    assert [(s.fact, s.holds) for s in r.path] == [("care", True)]
    one = tiny.decide({"care": "8 weeks", "hospitalized": False}, "coverage")
    assert isinstance(one, DecisionResult)
    assert one.to_dict() == r.to_dict()
    assert repr(one) == "DecisionResult(decision='coverage', result='rule', outcome='covered', rule='failed_care')"


def test_pending_names_what_is_needed(tiny: Artifact) -> None:
    r = tiny.decide({"hospitalized": False}, "coverage")
    assert (r.result, r.outcome, r.is_decided, r.needed) == ("pending", None, False, ["care"])
    assert r.to_dict()["needed"] == ["care"]
    assert tiny.decide({"hospitalized": True}, "coverage").outcome == "covered"


def test_otherwise(tiny: Artifact) -> None:
    r = tiny.decide({"care": "2 weeks", "hospitalized": False}, "coverage")
    assert (r.result, r.outcome, r.rule) == ("otherwise", "not_covered", None)
    assert "needed" not in r.to_dict()


def test_unknown_decision_is_a_key_error(tiny: Artifact) -> None:
    with pytest.raises(KeyError, match="no decision `nope`"):
        tiny.decide({}, "nope")


def test_explain(tiny: Artifact) -> None:
    text = tiny.explain({"care": "8 weeks", "hospitalized": False})
    assert text.startswith("coverage: covered by rule `failed_care`\n")
    assert "care >= 6 weeks" in text
    (step,) = tiny.decide({"care": "8 weeks", "hospitalized": False}, "coverage").path
    assert step.file is not None and step.file.endswith("tiny.medpol")
    assert step.line is not None and step.text is not None
    assert step.test == "care >= 6 weeks"


# Bad facts


@pytest.mark.parametrize(
    ("facts", "kind", "fact"),
    [
        ('{"care": "6"}', "missing_unit", "care"),
        ({"care": "6"}, "missing_unit", "care"),
        ('{"care": ', "syntax", None),
        ("[1]", "not_object", None),
        ('{"care": "1 week", "care": "2 weeks"}', "duplicate_key", "care"),
        ({"hospitalised": True}, "unknown_fact", "hospitalised"),
        ({"hospitalized": "yes"}, "wrong_type", "hospitalized"),
        ({"care": "8 furlongs"}, "unknown_unit", "care"),
        ({"care": "-1 weeks"}, "out_of_range", "care"),
        (b"\xff", "syntax", None),
        (42, "not_object", None),
        ({1: True}, "not_object", None),
        ({"hospitalized": object()}, "wrong_type", "hospitalized"),
    ],
)
def test_fact_errors(tiny: Artifact, facts: object, kind: str, fact: str | None) -> None:
    with pytest.raises(FactError) as e:
        tiny.decide(facts)  # type: ignore[call-overload]
    assert (e.value.kind, e.value.fact) == (kind, fact)
    assert isinstance(e.value, ValueError) and str(e.value)


def test_unknown_facts_can_be_ignored(tiny: Artifact) -> None:
    line = '{"claim_id": "C-1", "care": "8 weeks", "hospitalized": false}'
    with pytest.raises(FactError):
        tiny.decide(line)
    assert tiny.decide(line, "coverage", unknown_facts="ignore").outcome == "covered"
    with pytest.raises(ValueError, match="unknown_facts"):
        tiny.decide(line, unknown_facts="maybe")


# Facts as a dict: written as exact JSON text


def test_floats_are_read_as_repr_writes_them(exact: Artifact) -> None:
    # A float is written as a JSON number, which the artifact reads as that double, as its
    # shortest decimal (what repr prints): 0.1 is the decimal 0.1, not above the threshold 0.1.
    assert exact.decide({"ratio": 0.1}, "ratio_above").outcome == "not_above"
    assert exact.decide({"ratio": 0.30000000000000004}, "ratio_above").outcome == "above"
    assert exact.decide({"ratio": 1e-7}, "ratio_above").outcome == "not_above"
    with pytest.raises(FactError) as e:
        exact.decide({"ratio": 1e300})
    assert (e.value.kind, e.value.fact) == ("out_of_range", "ratio")


def test_decimals_and_ints_keep_every_digit(exact: Artifact) -> None:
    # Past what a double holds: a JSON number would lose the last digit, the dict keeps it.
    tiny_bit_more = Decimal("0.1000000000000000000000001")
    assert exact.decide({"ratio": tiny_bit_more}, "ratio_above").outcome == "above"
    assert exact.decide(f'{{"ratio": {tiny_bit_more}}}', "ratio_above").outcome == "not_above"
    assert exact.decide({"ratio": Decimal("0.1")}, "ratio_above").outcome == "not_above"
    assert exact.decide({"ratio": Decimal("1E-1")}, "ratio_above").outcome == "not_above"
    assert exact.decide({"ratio": 1}, "ratio_above").outcome == "above"
    assert exact.decide({"ratio": 10**25 + 1}, "ratio_above").outcome == "above"
    # The value of a measurement given as an object keeps every digit too.
    just_under = {"value": Decimal("69.853224979999999999999"), "unit": "kg"}
    assert exact.decide({"weight": just_under}, "heavy").outcome == "light"
    assert exact.decide({"weight": {"value": Decimal("69.85322498"), "unit": "kg"}}, "heavy").outcome == "heavy"
    assert exact.decide({"weight": "154 [lb_av]"}, "heavy").outcome == "heavy"
    # Where a number is not the fact's type it is refused as written by hand.
    with pytest.raises(FactError) as e:
        exact.decide({"weight": Decimal("70")})
    assert (e.value.kind, e.value.fact) == (
        exact.decide_batch(['{"weight": 70}'])[0].kind,  # type: ignore[union-attr]
        "weight",
    )


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (float("nan"), "wrong_type"),
        (Decimal("NaN"), "wrong_type"),
        (float("inf"), "out_of_range"),
        (Decimal("-Infinity"), "out_of_range"),
    ],
)
def test_numbers_that_are_not_finite(exact: Artifact, value: object, kind: str) -> None:
    # A NaN is no number; an infinity is a number too large, as `1e400` written as JSON is.
    with pytest.raises(FactError) as e:
        exact.decide({"ratio": value})
    assert (e.value.kind, e.value.fact) == (kind, "ratio")


def test_none_is_not_known(exact: Artifact) -> None:
    assert exact.decide({"ratio": None}, "ratio_above").result == "pending"


def test_dates_and_lists(dates_lists: Artifact) -> None:
    facts = {
        "service_date": datetime.date(2025, 6, 1),
        "onset": datetime.date(2025, 3, 1),
        "sessions": [
            {"kind": "diagnostic", "relief": "85%"},
            {"kind": "diagnostic", "relief": "90%"},
        ],
    }
    results = {r.decision: r for r in dates_lists.decide(facts)}
    assert results["waited"].outcome == "waited"
    assert results["two_diagnostic"].outcome == "yes"
    text = json.dumps({**facts, "service_date": "2025-06-01", "onset": "2025-03-01"})
    assert [r.to_dict() for r in dates_lists.decide(text)] == [r.to_dict() for r in results.values()]
    with pytest.raises(FactError) as e:
        dates_lists.decide({"onset": datetime.datetime(2025, 3, 1, 12, 0)})
    assert (e.value.kind, e.value.fact) == ("wrong_type", "onset")


def test_strings_are_escaped(tiny: Artifact) -> None:
    with pytest.raises(FactError) as e:
        tiny.decide({'we"ird\n\\key\x01': True})
    assert (e.value.kind, e.value.fact) == ("unknown_fact", 'we"ird\n\\key\x01')


def test_tuples_and_sets_are_lists(tiny: Artifact) -> None:
    # A bool fact given a list is the wrong type whichever sequence type wrote it.
    for value in ((True,), {True}, frozenset({True}), [True]):
        with pytest.raises(FactError) as e:
            tiny.decide({"hospitalized": value})
        assert e.value.kind == "wrong_type"


def test_a_list_that_holds_itself_is_refused(tiny: Artifact) -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(FactError) as e:
        tiny.decide({"hospitalized": loop})
    assert (e.value.kind, e.value.fact) == ("wrong_type", "hospitalized")


# Batches


def test_batch_reports_bad_rows_and_goes_on(tiny: Artifact) -> None:
    rows: list[object] = [
        '{"care": "8 weeks", "hospitalized": false}',
        {"care": "6"},
        b'{"hospitalized": true}',
        "not json",
        {"hospitalized": False},
        7,
    ]
    out = tiny.decide_batch(rows)  # type: ignore[arg-type]
    assert len(out) == len(rows)
    assert isinstance(out[0], list) and out[0][0].outcome == "covered"
    assert isinstance(out[1], RowError)
    assert (out[1].index, out[1].kind, out[1].fact) == (1, "missing_unit", "care")
    assert out[1].to_dict()["kind"] == "missing_unit"
    assert isinstance(out[2], list) and out[2][0].outcome == "covered"
    assert isinstance(out[3], RowError) and (out[3].kind, out[3].fact) == ("syntax", None)
    assert isinstance(out[4], list) and out[4][0].needed == ["care"]
    assert isinstance(out[5], RowError) and out[5].kind == "not_object"


def test_batch_of_one_decision_and_from_a_generator(tiny: Artifact) -> None:
    rows = ({"care": f"{w} weeks", "hospitalized": False} for w in range(10))
    out = tiny.decide_batch(rows, "coverage")
    assert [r.outcome for r in out if isinstance(r, DecisionResult)] == ["not_covered"] * 6 + ["covered"] * 4


def test_batch_agrees_with_decide(tiny: Artifact) -> None:
    rows = [{"care": f"{d} days"} | ({"hospitalized": d % 2 == 0} if d % 3 else {}) for d in range(60)]
    batch = tiny.decide_batch(rows)
    for row, got in zip(rows, batch):
        assert isinstance(got, list)
        assert [r.to_dict() for r in got] == [r.to_dict() for r in tiny.decide(row)]


def test_batch_on_threads_agrees(tiny: Artifact) -> None:
    rows: list[object] = [{"care": f"{d} days", "hospitalized": d % 5 == 0} for d in range(5000)]
    rows[1234] = {"care": "12"}
    one = [r if isinstance(r, RowError) else [x.to_dict() for x in r] for r in tiny.decide_batch(rows)]  # type: ignore[arg-type]
    three = tiny.decide_batch(rows, threads=3)  # type: ignore[arg-type]
    assert [r if isinstance(r, RowError) else [x.to_dict() for x in r] for r in three][:1234] == one[:1234]
    assert isinstance(three[1234], RowError) and three[1234].index == 1234
    assert [[x.to_dict() for x in r] for r in three[1235:] if isinstance(r, list)] == one[1235:]
    with pytest.raises(ValueError, match="threads"):
        tiny.decide_batch(rows, threads=0)  # type: ignore[arg-type]


def test_batch_leaves_the_garbage_collector_as_it_found_it(tiny: Artifact) -> None:
    assert gc.isenabled()
    tiny.decide_batch([{}] * 10)
    assert gc.isenabled()
    gc.disable()
    try:
        tiny.decide_batch([{}] * 10)
        assert not gc.isenabled()
    finally:
        gc.enable()

    def failing() -> Iterator[str]:
        yield "{}"
        raise RuntimeError("the rows ran out")

    with pytest.raises(RuntimeError, match="ran out"):
        tiny.decide_batch(failing())
    assert gc.isenabled()


def test_threads_share_an_artifact(tiny: Artifact) -> None:
    rows = [json.dumps({"care": f"{d} days", "hospitalized": False}) for d in range(2000)]
    expected = [r[0].outcome for r in tiny.decide_batch(rows) if isinstance(r, list)]
    seen: list[list[str | None]] = []

    def work() -> None:
        seen.append([r[0].outcome for r in tiny.decide_batch(rows) if isinstance(r, list)])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [expected] * 4


def test_the_package_exports(tiny: Artifact) -> None:
    assert set(m.__all__) == {"Artifact", "DecisionResult", "Fact", "FactError", "LoadError", "RowError", "Step"}
    assert FactError.__module__ == "medpol_artifact" and LoadError.__module__ == "medpol_artifact"
