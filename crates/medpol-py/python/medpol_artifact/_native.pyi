"""Type stubs of the native module (src/lib.rs); `medpol_artifact` re-exports every name."""

import os
from collections.abc import Iterable, Mapping
from typing import Literal, TypeAlias, final, overload

__all__ = ["Artifact", "DecisionResult", "Fact", "FactError", "LoadError", "RowError", "Step"]

#: One patient's facts: JSON text (read exactly as `medpol eval` reads it), or a mapping of
#: fact names to values (str, bool, int, float, Decimal, datetime.date, None, lists, tuples,
#: sets and dicts of these), written as JSON text first; another value is a FactError.
_FactsInput: TypeAlias = str | bytes | bytearray | Mapping[str, object]
#: "reject" (a key that is not a fact makes the facts bad) or "ignore" (it is skipped).
_UnknownFacts: TypeAlias = str
_ResultKind: TypeAlias = Literal["rule", "outcome", "otherwise", "no_rule", "conflict", "pending"]

class LoadError(ValueError):
    """The artifact cannot be loaded."""

    #: `syntax`, `format`, `schema`, `hash` or `invalid`.
    kind: str

class FactError(ValueError):
    """The facts are bad; nothing was evaluated."""

    #: `syntax`, `not_object`, `duplicate_key`, `unknown_fact`, `wrong_type`, `missing_unit`,
    #: `unknown_unit`, `wrong_unit`, `out_of_range`, `bad_date`, `unknown_value`, `bad_code`,
    #: `not_billable`, `unknown_field`, `derived` or `too_large`.
    kind: str
    #: The fact at fault; None for text that is not JSON or not an object.
    fact: str | None

@final
class Fact:
    """A fact of the artifact's input schema."""

    @property
    def name(self) -> str: ...
    @property
    def type(
        self,
    ) -> Literal[
        "bool", "int", "decimal", "duration", "percent", "enum", "code", "codes", "date",
        "quantity", "list",
    ]: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def values(self) -> list[str]: ...
    @property
    def system(self) -> str | None: ...
    @property
    def range(self) -> tuple[str, str] | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def documentation(self) -> bool: ...
    @property
    def read(self) -> bool: ...
    @property
    def derived(self) -> bool: ...
    @property
    def record(self) -> str | None: ...
    @property
    def fields(self) -> list[Fact]: ...

@final
class Step:
    """A test taken on a result's path, with the policy text it comes from."""

    @property
    def node(self) -> int: ...
    @property
    def fact(self) -> str: ...
    @property
    def holds(self) -> bool: ...
    @property
    def test(self) -> str | None: ...
    @property
    def text(self) -> str | None: ...
    @property
    def text_holds(self) -> bool | None: ...
    @property
    def file(self) -> str | None: ...
    @property
    def line(self) -> int | None: ...
    @property
    def column(self) -> int | None: ...
    @property
    def rule(self) -> str | None: ...

@final
class DecisionResult:
    """One decision's result for one patient."""

    @property
    def decision(self) -> str: ...
    @property
    def result(self) -> _ResultKind: ...
    @property
    def is_decided(self) -> bool: ...
    @property
    def outcome(self) -> str | None: ...
    @property
    def rule(self) -> str | None: ...
    @property
    def rules(self) -> list[str]: ...
    @property
    def outcomes(self) -> list[str]: ...
    @property
    def needed(self) -> list[str]: ...
    @property
    def leaves(self) -> list[int]: ...
    @property
    def path(self) -> list[Step]: ...
    @property
    def documentation(self) -> list[str]: ...
    def to_dict(self) -> dict[str, object]: ...
    def explain(self) -> str: ...

@final
class RowError:
    """A row of a batch whose facts are bad."""

    @property
    def index(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def fact(self) -> str | None: ...
    @property
    def message(self) -> str: ...
    def to_dict(self) -> dict[str, object]: ...

@final
class Artifact:
    """A loaded artifact, ready to decide with; share it freely between threads."""

    @staticmethod
    def from_json(text: str | bytes | bytearray) -> Artifact: ...
    @staticmethod
    def load(path: str | os.PathLike[str]) -> Artifact: ...
    def to_json(self) -> str: ...
    @property
    def policy_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def format(self) -> str: ...
    @property
    def hash(self) -> str: ...
    @property
    def decisions(self) -> list[str]: ...
    @property
    def facts(self) -> list[Fact]: ...
    @overload
    def decide(
        self, facts: _FactsInput, decision: None = None, *, unknown_facts: _UnknownFacts = "reject"
    ) -> list[DecisionResult]: ...
    @overload
    def decide(
        self, facts: _FactsInput, decision: str, *, unknown_facts: _UnknownFacts = "reject"
    ) -> DecisionResult: ...
    @overload
    def decide(
        self, facts: _FactsInput, decision: str | None, *, unknown_facts: _UnknownFacts = "reject"
    ) -> list[DecisionResult] | DecisionResult: ...
    @overload
    def decide_batch(
        self,
        rows: Iterable[_FactsInput],
        decision: None = None,
        *,
        unknown_facts: _UnknownFacts = "reject",
        threads: int = 1,
    ) -> list[list[DecisionResult] | RowError]: ...
    @overload
    def decide_batch(
        self,
        rows: Iterable[_FactsInput],
        decision: str,
        *,
        unknown_facts: _UnknownFacts = "reject",
        threads: int = 1,
    ) -> list[DecisionResult | RowError]: ...
    @overload
    def decide_batch(
        self,
        rows: Iterable[_FactsInput],
        decision: str | None,
        *,
        unknown_facts: _UnknownFacts = "reject",
        threads: int = 1,
    ) -> list[list[DecisionResult] | DecisionResult | RowError]: ...
    def explain(
        self,
        facts: _FactsInput,
        decision: str | None = None,
        *,
        unknown_facts: _UnknownFacts = "reject",
    ) -> str: ...
