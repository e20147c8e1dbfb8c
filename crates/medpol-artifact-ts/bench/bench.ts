// Binds and decides every decision of an artifact for every patient of a JSONL file (one
// object of facts a line), and prints one JSON line: the best of three timed runs after a
// warm-up, and the count of results per decision and result, so that no work can be skipped.
//
//   node dist/bench/bench.js ARTIFACT.json PATIENTS.jsonl

import { readFileSync } from "node:fs";
import { Artifact, FactError, Facts } from "../src/index.js";

const [artifactPath, patientsPath] = process.argv.slice(2);
if (artifactPath === undefined || patientsPath === undefined) {
  process.stderr.write("usage: bench ARTIFACT.json PATIENTS.jsonl\n");
  process.exit(2);
}
const artifact = Artifact.fromJson(readFileSync(artifactPath, "utf8"));
const lines = readFileSync(patientsPath, "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "");
const facts = new Facts(artifact);

/** One pass over every patient: the count of each decision's results (`coverage: rule covered`). */
function run(): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  for (const line of lines) {
    try {
      facts.readJson(line);
    } catch (e) {
      if (!(e instanceof FactError)) throw e;
      add(`error: ${e.kind}`);
      continue;
    }
    for (const d of artifact.decisions) {
      const r = d.decide(facts);
      add(`${d.name}: ${r.kind}${"outcome" in r ? ` ${r.outcome}` : ""}`);
    }
  }
  return counts;
}

let counts = run();
let best = Infinity;
for (let i = 0; i < 3; i++) {
  const start = process.hrtime.bigint();
  const again = run();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  best = Math.min(best, seconds);
  counts = again;
}
const results = Object.fromEntries([...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
process.stdout.write(
  `${JSON.stringify({ impl: "typescript", patients: lines.length, seconds: Number(best.toFixed(6)), per_second: Math.round(lines.length / best), results })}\n`,
);
