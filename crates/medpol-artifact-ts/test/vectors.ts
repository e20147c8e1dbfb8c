// Runs the conformance vectors of `tests/conformance/` (see its README): each case loads an
// artifact, reads the facts' JSON text and decides every decision, and every field of the
// expected result is compared exactly.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Artifact, type Decided, FactError, Facts, LoadError } from "../src/index.js";

export interface Case {
  name: string;
  artifact: string;
  facts: string;
  options?: { unknown_facts?: "ignore" | "reject" };
  expect:
    | { decisions: Record<string, unknown>[] }
    | { error: { kind: string; fact: string | null } }
    | { load_error: string };
}

export interface VectorFile {
  suite: string;
  cases: Case[];
}

/** The result of one decision in the vectors' format: every field the format has, for this result. */
function resultOf(artifact: Artifact, facts: Facts, index: number): Record<string, unknown> {
  const d = artifact.decisions[index];
  const e = d.explain(facts);
  const r: Decided = e.result;
  const out: Record<string, unknown> = { decision: d.name, result: r.kind };
  if (r.kind === "rule" || r.kind === "outcome" || r.kind === "otherwise") out.outcome = r.outcome;
  if (r.kind === "rule") out.rule = r.rule;
  if (r.kind === "conflict") {
    out.rules = r.rules;
    out.outcomes = r.outcomes;
  }
  if (r.kind === "pending") out.needed = e.needed;
  out.leaves = e.leaves;
  out.path = e.path.map((s) => ({ node: s.node, holds: s.holds }));
  out.documentation = e.documentation;
  // The quick path must agree with the explained one.
  const quick = d.decide(facts);
  if (JSON.stringify(quick) !== JSON.stringify(r)) out.decide = quick;
  return out;
}

const FIELDS = ["decision", "result", "outcome", "rule", "rules", "outcomes", "needed", "leaves", "path", "documentation"];

/**
 * What the case gives, shaped as its expectation: for each decision, the fields the format
 * defines for its result (a field the expectation leaves out is left out, so that a hand-written
 * vector may state only part of a result; a field the result lacks is absent).
 */
export function runCase(c: Case, base: string, artifacts = new Map<string, Artifact | LoadError>()): unknown {
  let loaded = artifacts.get(c.artifact);
  if (loaded === undefined) {
    try {
      loaded = Artifact.fromJson(readFileSync(join(base, c.artifact), "utf8"));
    } catch (e) {
      if (!(e instanceof LoadError)) throw e;
      loaded = e;
    }
    artifacts.set(c.artifact, loaded);
  }
  if (loaded instanceof LoadError) return { load_error: loaded.kind };
  const facts = new Facts(loaded, { unknownFacts: c.options?.unknown_facts ?? "reject" });
  try {
    facts.readJson(c.facts);
  } catch (e) {
    if (!(e instanceof FactError)) throw e;
    return { error: { kind: e.kind, fact: e.fact } };
  }
  // A hand-written vector may list some decisions only, and some fields of a result only: each
  // listed decision is matched by name, and each field it states is compared. The fields that
  // say what the result is are always compared, so that none can be left over.
  const expected = "decisions" in c.expect ? c.expect.decisions : loaded.decisions.map((d) => ({ decision: d.name }));
  const always = ["decision", "result", "outcome", "rule", "rules", "outcomes", "needed"];
  return {
    decisions: expected.map((want) => {
      for (const k of Object.keys(want)) {
        if (!FIELDS.includes(k)) throw new Error(`case ${c.name}: unknown field \`${k}\` in an expected result`);
      }
      const index = (loaded as Artifact).decisions.findIndex((d) => d.name === want.decision);
      if (index < 0) return { decision: want.decision, missing: true };
      const full = resultOf(loaded as Artifact, facts, index);
      const shaped: Record<string, unknown> = {};
      for (const k of FIELDS) if (k in full && (k in want || always.includes(k))) shaped[k] = full[k];
      if ("decide" in full) shaped.decide = full.decide;
      return shaped;
    }),
  };
}

export function readVectors(path: string): VectorFile {
  return JSON.parse(readFileSync(path, "utf8")) as VectorFile;
}
