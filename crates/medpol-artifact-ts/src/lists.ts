// The `where` of a count: a condition on one item of a list, over its record's fields, in
// three-valued logic (a field the item lacks leaves a test unknown; `and`, `or` and `not`
// follow Kleene's tables).

import type { CodeIndex } from "./codes_index.js";
import { dayNumber, parseDate, windowStart } from "./date.js";
import type { Cond, Document, RecordSchema } from "./document.js";
import { type Num, cmp, parseNum } from "./num.js";
import type { Slot } from "./slots.js";

export type Op = "==" | "!=" | "<" | "<=" | ">" | ">=";

const OPS: readonly string[] = ["==", "!=", "<", "<=", ">", ">="];

function opHolds(op: Op, a: Num, b: Num): boolean {
  const c = cmp(a, b);
  switch (op) {
    case "==":
      return c === 0;
    case "!=":
      return c !== 0;
    case "<":
      return c < 0;
    case "<=":
      return c <= 0;
    case ">":
      return c > 0;
    default:
      return c >= 0;
  }
}

/** A condition with its fields, values and sets resolved. */
export type PCond =
  | { k: "const"; value: boolean }
  | { k: "and"; parts: PCond[] }
  | { k: "or"; parts: PCond[] }
  | { k: "not"; part: PCond }
  | { k: "is_true"; field: number }
  | { k: "compare"; field: number; op: Op; value: Num }
  | { k: "enum_in"; field: number; mask: boolean[] }
  | { k: "code_in"; field: number; set: number }
  | { k: "window"; field: number; fact: number; amount: number; months: boolean }
  | { k: "field_num"; field: number; op: Op; fact: number }
  | { k: "field_enum"; field: number; negated: boolean; fact: number; map: (number | null)[] };

const NUMBER_TYPES = ["int", "decimal", "duration", "percent", "quantity"];

/** Checks a condition against its record and the artifact; `null` when it does not fit. */
export function prepareCond(c: Cond, record: RecordSchema, doc: Document): PCond | null {
  const field = (i: number) => record.fields[i];
  switch (c.kind) {
    case "const":
      return { k: "const", value: c.value };
    case "and":
    case "or": {
      const parts: PCond[] = [];
      for (const x of c.kind === "and" ? c.all : c.any) {
        const p = prepareCond(x, record, doc);
        if (p === null) return null;
        parts.push(p);
      }
      return { k: c.kind, parts };
    }
    case "not": {
      const part = prepareCond(c.not, record, doc);
      return part === null ? null : { k: "not", part };
    }
    case "is_true":
      return field(c.field)?.type === "bool" ? { k: "is_true", field: c.field } : null;
    case "compare": {
      const f = field(c.field);
      if (f === undefined || !OPS.includes(c.op)) return null;
      let value: Num | null = null;
      if (NUMBER_TYPES.includes(f.type)) value = parseNum(c.value);
      else if (f.type === "date") {
        const d = parseDate(c.value);
        value = d === null ? null : { n: BigInt(dayNumber(d)), d: 1n };
      }
      return value === null ? null : { k: "compare", field: c.field, op: c.op as Op, value };
    }
    case "enum_in": {
      const f = field(c.field);
      if (f === undefined || f.type !== "enum") return null;
      const mask = f.values.map(() => false);
      for (const v of c.values) {
        const at = f.values.indexOf(v);
        if (at < 0) return null;
        mask[at] = true;
      }
      return { k: "enum_in", field: c.field, mask };
    }
    case "code_in": {
      const f = field(c.field);
      const set = doc.code_sets[c.set];
      if (f === undefined || f.type !== "code" || set === undefined || set.system !== f.system) return null;
      return { k: "code_in", field: c.field, set: c.set };
    }
    case "window": {
      const f = field(c.field);
      const fact = doc.facts[c.before];
      if (f === undefined || fact === undefined || f.type !== "date" || fact.type !== "date") return null;
      if (c.unit !== "days" && c.unit !== "months") return null;
      return { k: "window", field: c.field, fact: c.before, amount: c.amount, months: c.unit === "months" };
    }
    case "field_is": {
      const f = field(c.field);
      const fact = doc.facts[c.fact];
      if (f === undefined || fact === undefined || !OPS.includes(c.op)) return null;
      const op = c.op as Op;
      if (f.type === "enum" && fact.type === "enum" && (op === "==" || op === "!=")) {
        const map = f.values.map((v) => {
          const at = fact.values.indexOf(v);
          return at < 0 ? null : at;
        });
        return { k: "field_enum", field: c.field, negated: op === "!=", fact: c.fact, map };
      }
      const comparable = ["int", "decimal", "percent", "duration", "date"];
      if (f.type === fact.type && comparable.includes(f.type) && f.unit === fact.unit) {
        return { k: "field_num", field: c.field, op, fact: c.fact };
      }
      return null;
    }
  }
}

/** Whether an item meets the condition; `null` when a field it needs is missing and the others do not settle it. */
export function condHolds(c: PCond, item: Slot[], outer: Slot[], codes: CodeIndex): boolean | null {
  switch (c.k) {
    case "const":
      return c.value;
    case "and":
    case "or": {
      const decisive = c.k === "or";
      let unknown = false;
      for (const p of c.parts) {
        const h = condHolds(p, item, outer, codes);
        if (h === decisive) return decisive;
        if (h === null) unknown = true;
      }
      return unknown ? null : !decisive;
    }
    case "not": {
      const h = condHolds(c.part, item, outer, codes);
      return h === null ? null : !h;
    }
    case "is_true": {
      const s = item[c.field];
      return s === undefined ? null : (s as boolean);
    }
    case "compare": {
      const s = item[c.field];
      return s === undefined ? null : opHolds(c.op, s as Num, c.value);
    }
    case "enum_in": {
      const s = item[c.field];
      return s === undefined ? null : c.mask[s as number] === true;
    }
    case "code_in": {
      const s = item[c.field];
      return s === undefined ? null : (s as number) >= 0 && codes.inSet(s as number, c.set);
    }
    case "window": {
      const day = item[c.field];
      const end = outer[c.fact];
      if (day === undefined || end === undefined) return null;
      const e = Number((end as Num).n);
      const start = windowStart(e, c.amount, c.months);
      if (start === null) return null;
      const d = Number((day as Num).n);
      return start <= d && d <= e;
    }
    case "field_num": {
      const a = item[c.field];
      const b = outer[c.fact];
      if (a === undefined || b === undefined) return null;
      return opHolds(c.op, a as Num, b as Num);
    }
    case "field_enum": {
      const a = item[c.field];
      const b = outer[c.fact];
      if (a === undefined || b === undefined) return null;
      const same = c.map[a as number] === b;
      return same !== c.negated;
    }
  }
}

/** The facts of the patient a condition reads, each once, in the order first met. */
export function outerFacts(c: PCond, out: number[]): void {
  if (c.k === "and" || c.k === "or") c.parts.forEach((p) => outerFacts(p, out));
  else if (c.k === "not") outerFacts(c.part, out);
  else if ((c.k === "window" || c.k === "field_num" || c.k === "field_enum") && !out.includes(c.fact)) out.push(c.fact);
}

/** How many items meet the condition (every item without one); `null` when unknown for one. */
export function countItems(items: Slot[][], filter: PCond | null, outer: Slot[], codes: CodeIndex): number | null {
  if (filter === null) return items.length;
  let n = 0;
  for (const item of items) {
    const h = condHolds(filter, item, outer, codes);
    if (h === null) return null;
    if (h) n++;
  }
  return n;
}
