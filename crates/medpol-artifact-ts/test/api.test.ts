// The package's own API: refusals at load, the typed setters, explanations, errors.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Artifact, FactError, Facts, LoadError, sha256Hex } from "../src/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
const tinyText = readFileSync(join(root, "tests", "cases", "build", "tiny.json"), "utf8");
const tiny = Artifact.fromJson(tinyText);
const coverage = tiny.decision("coverage");
assert.ok(coverage !== undefined);

function loadError(text: string): LoadError {
  try {
    Artifact.fromJson(text);
  } catch (e) {
    if (e instanceof LoadError) return e;
    throw e;
  }
  assert.fail("the artifact was loaded");
}

function factError(read: () => void): FactError {
  try {
    read();
  } catch (e) {
    if (e instanceof FactError) return e;
    throw e;
  }
  assert.fail("the facts were read");
}

test("sha-256 agrees with node:crypto", () => {
  assert.equal(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Lengths around the 64-byte blocks, and text beyond ASCII (hashed as UTF-8).
  for (const text of ["", "é", "𝄞 ICD-10", ...[55, 56, 63, 64, 65, 119, 120, 1000].map((n) => "x".repeat(n))]) {
    assert.equal(sha256Hex(text), createHash("sha256").update(text, "utf8").digest("hex"), JSON.stringify(text));
  }
});

test("an artifact changed without its hash is refused", () => {
  const changed = tinyText.replace('"covered"', '"approved"');
  assert.notEqual(changed, tinyText);
  assert.equal(loadError(changed).kind, "hash");
  const doc = JSON.parse(tinyText) as Record<string, unknown>;
  doc.hash = "sha256:" + "0".repeat(64);
  assert.equal(loadError(JSON.stringify(doc, null, 2)).kind, "hash");
});

test("the hash is of the canonical form, not of the file's layout", () => {
  // Re-indented, with its keys in another order: the same document.
  const doc = JSON.parse(tinyText) as Record<string, unknown>;
  const reordered = Object.fromEntries(Object.entries(doc).reverse());
  assert.equal(Artifact.fromJson(JSON.stringify(reordered)).policyId, tiny.policyId);
});

test("other artifacts are refused with their kind", () => {
  assert.equal(loadError("{").kind, "syntax");
  assert.equal(loadError('{"format": "medpol.decision/9"}').kind, "format");
  assert.equal(loadError("[1, 2]").kind, "format");
  const doc = JSON.parse(tinyText) as Record<string, unknown>;
  doc.colour = "blue";
  assert.equal(loadError(JSON.stringify(doc)).kind, "schema");
  delete doc.colour;
  delete doc.decisions;
  assert.equal(loadError(JSON.stringify(doc)).kind, "schema");
});

test("decide and explain: a rule, and pending on a missing fact", () => {
  const facts = Facts.fromJson(tiny, '{"care": "8 weeks", "hospitalized": false}');
  assert.deepEqual(coverage.decide(facts), { kind: "rule", outcome: "covered", rule: "failed_care" });
  const e = coverage.explain(facts);
  assert.equal(e.result.kind, "rule");
  assert.equal(e.leaves.length, 1);
  assert.ok(e.path.length > 0);
  assert.ok(e.path.every((s) => typeof s.source.text === "string" && s.source.fileName !== undefined));
  assert.deepEqual(e.needed, []);

  facts.readJson('{"hospitalized": false}');
  assert.deepEqual(coverage.decide(facts), { kind: "pending" });
  const pending = coverage.explain(facts);
  assert.deepEqual(pending.needed, ["care"]);
  assert.ok(pending.leaves.length > 1);
});

test("the typed setters check as reading JSON does", () => {
  const facts = new Facts(tiny);
  facts.setQuantity("care", "42", "days");
  facts.setBool("hospitalized", false);
  assert.deepEqual(coverage.decide(facts), { kind: "rule", outcome: "covered", rule: "failed_care" });
  facts.setQuantity("care", "41", "days");
  assert.equal(coverage.decide(facts).kind, "otherwise");
  // Exact: a third of a week is not a decimal.
  facts.setQuantity("care", "17/3", "weeks");
  assert.equal(coverage.decide(facts).kind, "otherwise");
  facts.setQuantity("care", "6", "weeks");
  assert.equal(coverage.decide(facts).kind, "rule");
  assert.equal(factError(() => facts.setQuantity("care", "1", "months")).kind, "wrong_unit");
  assert.equal(factError(() => facts.setQuantity("care", "-1", "weeks")).kind, "out_of_range");
  assert.equal(factError(() => facts.setBool("hospitalised", true)).kind, "unknown_fact");
  facts.unset("care");
  assert.equal(facts.isKnown("care"), false);
  assert.deepEqual(coverage.decide(facts), { kind: "pending" });
});

test("bad facts: the kind, the fact, and a short message in lower case", () => {
  const facts = new Facts(tiny);
  const cases: [string, string, string | null][] = [
    ['{"care": "6"}', "missing_unit", "care"],
    ['{"care": "6 fortnights"}', "unknown_unit", "care"],
    ['{"care": 6}', "missing_unit", "care"],
    ['{"hospitalized": "no"}', "wrong_type", "hospitalized"],
    ['{"hospitalised": true}', "unknown_fact", "hospitalised"],
    ['{"care": "6 weeks", "care": "7 weeks"}', "duplicate_key", "care"],
    ["[]", "not_object", null],
    ['{"care": }', "syntax", null],
  ];
  for (const [text, kind, fact] of cases) {
    const e = factError(() => facts.readJson(text));
    assert.equal(e.kind, kind, text);
    assert.equal(e.fact, fact, text);
    assert.match(e.message, /^[^A-Z]/, e.message);
    assert.ok(e.message.length < 300, e.message);
  }
  const long = factError(() => facts.readJson(`{"${"x".repeat(500)}": 1}`));
  assert.ok(long.message.length < 200, "user input is shortened");
  assert.match(factError(() => facts.readJson('{"hospitalised": true}')).message, /did you mean `hospitalized`/);
  // After an error nothing is known.
  assert.equal(facts.isKnown("care"), false);
});

test("unknown facts can be ignored, and keys carried", () => {
  const facts = new Facts(tiny, { unknownFacts: "ignore", carry: ["claim"] });
  facts.readJson('{"claim": "c-17", "note": [1, 2], "care": "8 weeks", "hospitalized": false}');
  assert.equal(facts.carried.get("claim"), "c-17");
  assert.equal(coverage.decide(facts).kind, "rule");
});

test("documentation: the documented facts a result rests on", () => {
  const art = Artifact.fromJson(readFileSync(join(root, "tests", "conformance", "artifacts", "bcbsma-484.json"), "utf8"));
  const facts = Facts.fromJson(art, "{}");
  const docs = art.decisions.map((d) => d.explain(facts).documentation);
  assert.ok(docs.some((names) => names.includes("osteoporosis")), JSON.stringify(docs));
  assert.deepEqual(art.documentationNeeded([art.factIndex("osteoporosis") as number, art.factIndex("product") as number]), ["osteoporosis"]);
});
