"""Times the Python bindings: reading and deciding every decision for every patient of a JSONL.

    python bench/bench.py ARTIFACT PATIENTS.jsonl [--rounds 3] [--threads N]

Each line of the JSONL is one patient's facts (a JSON object). Two modes are timed, each the
best of `--rounds` runs after a warm-up run: `per-call` (one `Artifact.decide` per patient, on
the line's text) and `batch` (one `Artifact.decide_batch` over all lines, which evaluates
without holding the GIL); with `--threads N`, also `batch-N-threads`. Each run reads every result's outcome (or result kind) into counts,
so no work is skipped; the counts must be the same in both modes. Prints one JSON object per
mode on standard output:

    {"impl": "python", "mode": "per-call", "patients": N, "seconds": S, "per_second": R,
     "outcomes": {"coverage": {"covered": n, ...}, ...}}
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from medpol_artifact import Artifact, DecisionResult, RowError

Counts = dict[str, Counter[str]]


def _count(counts: Counts, results: list[DecisionResult] | RowError) -> None:
    if isinstance(results, RowError):
        counts["error"][results.kind] += 1
        return
    for r in results:
        counts[r.decision][r.outcome or r.result] += 1


def per_call(artifact: Artifact, lines: list[str]) -> Counts:
    counts: Counts = {name: Counter() for name in [*artifact.decisions, "error"]}
    decide = artifact.decide
    for line in lines:
        try:
            results = decide(line)
        except ValueError as e:
            counts["error"][getattr(e, "kind", "?")] += 1
            continue
        _count(counts, results)
    return counts


def batch(artifact: Artifact, lines: list[str], threads: int = 1) -> Counts:
    counts: Counts = {name: Counter() for name in [*artifact.decisions, "error"]}
    for row in artifact.decide_batch(lines, threads=threads):
        _count(counts, row)
    return counts


def _best(run: Callable[[Artifact, list[str]], Counts], artifact: Artifact, lines: list[str], rounds: int) -> tuple[float, Counts]:
    run(artifact, lines)  # warm-up
    best = float("inf")
    counts: Counts = {}
    for _ in range(rounds):
        start = time.perf_counter()
        counts = run(artifact, lines)
        best = min(best, time.perf_counter() - start)
    return best, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("artifact", type=Path)
    parser.add_argument("patients", type=Path, help="JSONL, one object of facts per line")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="threads of the batch (default 1)")
    args = parser.parse_args()
    artifact = Artifact.load(args.artifact)
    lines = [line for line in args.patients.read_text(encoding="utf-8").splitlines() if line.strip()]
    seen = None
    modes: list[tuple[str, Callable[[Artifact, list[str]], Counts]]] = [
        ("per-call", per_call),
        ("batch", batch),
    ]
    if args.threads > 1:
        modes.append((f"batch-{args.threads}-threads", lambda a, ls: batch(a, ls, args.threads)))
    for mode, run in modes:
        seconds, counts = _best(run, artifact, lines, args.rounds)
        outcomes = {name: dict(sorted(c.items())) for name, c in counts.items() if c}
        if seen is not None and outcomes != seen:
            print(f"error: the {mode} run counted other outcomes: {outcomes} against {seen}", file=sys.stderr)
            return 1
        seen = outcomes
        record = {
            "impl": "python",
            "mode": mode,
            "patients": len(lines),
            "seconds": round(seconds, 6),
            "per_second": round(len(lines) / seconds, 1) if seconds > 0 else None,
            "outcomes": outcomes,
        }
        print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
