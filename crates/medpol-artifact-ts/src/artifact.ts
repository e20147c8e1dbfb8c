// A loaded artifact and what its decisions give a patient.

import { type Document, LoadError, canonical, readDocument, shorten } from "./document.js";
import { type Decision, type Inner, prepare } from "./eval.js";
import { sha256Hex } from "./sha256.js";

/** A loaded artifact, ready to evaluate patients. */
export class Artifact {
  /** @internal */
  readonly inner: Inner;

  private constructor(inner: Inner) {
    this.inner = inner;
  }

  /**
   * Reads an artifact's JSON text: checks it is JSON, its format id, every field, its content
   * hash and every index, and prepares its decisions. Throws a `LoadError` with its `kind`.
   */
  static fromJson(text: string): Artifact {
    const doc = readDocument(text);
    const expected = `sha256:${sha256Hex(canonical(doc))}`;
    if (doc.hash !== expected) {
      throw new LoadError("hash", `the content hash does not match: the file says \`${shorten(doc.hash, 80)}\`, its content gives \`${expected}\``);
    }
    return new Artifact(prepare(doc));
  }

  get document(): Document {
    return this.inner.doc;
  }

  get policyId(): string {
    return this.inner.doc.policy.id;
  }

  get decisions(): readonly Decision[] {
    return this.inner.decisions;
  }

  decision(name: string): Decision | undefined {
    return this.inner.decisions.find((d) => d.name === name);
  }

  factIndex(name: string): number | undefined {
    return this.inner.byName.get(name);
  }

  /** The names of facts given by index. */
  factNames(indices: readonly number[]): string[] {
    return indices.filter((i) => this.inner.doc.facts[i] !== undefined).map((i) => this.inner.doc.facts[i].name);
  }

  /** Of the facts given by index, those declared `documentation: true`, by name in the artifact's order. */
  documentationNeeded(indices: Iterable<number>): string[] {
    const set = new Set<number>();
    for (const i of indices) if (this.inner.doc.facts[i]?.documentation === true) set.add(i);
    return this.factNames([...set].sort((a, b) => a - b));
  }
}
