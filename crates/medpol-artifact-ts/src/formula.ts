// Derived values: a formula over earlier facts and exact numbers, computed exactly.

import type { FormulaDoc } from "./document.js";
import { type Num, add, div, mul, parseNum, sub } from "./num.js";

export type Formula = { fact: number } | { number: Num } | { op: "add" | "sub" | "mul" | "div"; a: Formula; b: Formula };

/** The formula a document writes, or the text of a number in it that is not one. */
export function readFormula(f: FormulaDoc): Formula | string {
  if ("fact" in f) return { fact: f.fact };
  if ("number" in f) {
    const n = parseNum(f.number);
    return n === null ? f.number : { number: n };
  }
  const [op, [x, y]] = Object.entries(f)[0] as ["add" | "sub" | "mul" | "div", [FormulaDoc, FormulaDoc]];
  const a = readFormula(x);
  if (typeof a === "string") return a;
  const b = readFormula(y);
  if (typeof b === "string") return b;
  return { op, a, b };
}

/** The facts a formula reads, each once, in the order first written. */
export function formulaFacts(f: Formula, out: number[] = []): number[] {
  if ("fact" in f) {
    if (!out.includes(f.fact)) out.push(f.fact);
  } else if ("op" in f) {
    formulaFacts(f.a, out);
    formulaFacts(f.b, out);
  }
  return out;
}

/** Why a formula has no value for facts that are all known. */
export type FormulaError = "divides by zero" | "is too large or too precise to compute exactly";

/**
 * The value for the facts `get` gives: `null` when one it reads is missing, a `FormulaError`
 * when the known facts give no exact value.
 */
export function formulaValue(f: Formula, get: (fact: number) => Num | null): Num | null | FormulaError {
  if (formulaFacts(f).some((x) => get(x) === null)) return null;
  return compute(f, get);
}

function compute(f: Formula, get: (fact: number) => Num | null): Num | FormulaError {
  if ("fact" in f) return get(f.fact) ?? "is too large or too precise to compute exactly";
  if ("number" in f) return f.number;
  const a = compute(f.a, get);
  if (typeof a === "string") return a;
  const b = compute(f.b, get);
  if (typeof b === "string") return b;
  if (f.op === "div" && b.n === 0n) return "divides by zero";
  const r = f.op === "add" ? add(a, b) : f.op === "sub" ? sub(a, b) : f.op === "mul" ? mul(a, b) : div(a, b);
  return r ?? "is too large or too precise to compute exactly";
}
