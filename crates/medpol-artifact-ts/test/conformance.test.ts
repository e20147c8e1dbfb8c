// Every vector file of `tests/conformance/vectors/`, found when the suite runs.

import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type Artifact, LoadError } from "../src/index.js";
import { readVectors, runCase } from "./vectors.js";

// Compiled to dist/test/, four levels below the repository's root.
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
const base = join(root, "tests", "conformance");
const vectors = join(base, "vectors");

const files = existsSync(vectors) ? readdirSync(vectors).filter((f) => f.endsWith(".json")).sort() : [];

test("the conformance vectors are there", () => {
  assert.ok(files.length > 0, `no vector file in ${vectors}`);
});

for (const file of files) {
  test(`conformance: ${file}`, async (t) => {
    const artifacts = new Map<string, Artifact | LoadError>();
    const suite = readVectors(join(vectors, file));
    assert.ok(suite.cases.length > 0, "the file has no case");
    for (const c of suite.cases) {
      await t.test(c.name, () => {
        assert.deepEqual(runCase(c, base, artifacts), c.expect);
      });
    }
  });
}
