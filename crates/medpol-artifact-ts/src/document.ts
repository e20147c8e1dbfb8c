// The JSON document of an artifact, field for field: reading it with the checks medpol makes
// (every field of its kind, no unknown field) and writing its canonical form, the text whose
// SHA-256 is the artifact's `hash`.

import { JNumber, JObject, type JValue, JsonError, Reader } from "./json.js";

export const FORMAT = "medpol.decision/2";
export const FORMAT_1 = "medpol.decision/1";

/** Why an artifact cannot be loaded, by the kinds of `tests/conformance/README.md`. */
export type LoadErrorKind = "syntax" | "format" | "schema" | "hash" | "invalid";

export class LoadError extends Error {
  constructor(
    readonly kind: LoadErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "LoadError";
  }
}

export interface Loc {
  file: number;
  line: number;
  column: number;
  rule?: string;
  text: string;
  agrees?: boolean;
}

export interface PolicyMeta {
  id: string;
  title: string;
  version: string;
  effective?: string;
  ends?: string;
  description?: string;
  references: string[];
  related: string[];
  source: Loc;
}

export type FactType =
  | "bool"
  | "int"
  | "decimal"
  | "duration"
  | "percent"
  | "enum"
  | "code"
  | "codes"
  | "date"
  | "quantity"
  | "list";

const FACT_TYPES: readonly string[] = ["bool", "int", "decimal", "duration", "percent", "enum", "code", "codes", "date", "quantity", "list"];

export type FormulaDoc =
  | { fact: number }
  | { number: string }
  | { add: [FormulaDoc, FormulaDoc] }
  | { sub: [FormulaDoc, FormulaDoc] }
  | { mul: [FormulaDoc, FormulaDoc] }
  | { div: [FormulaDoc, FormulaDoc] };

export interface FactSchema {
  name: string;
  type: FactType;
  unit?: string;
  values: string[];
  system?: string;
  record?: number;
  description?: string;
  range?: { min: string; max: string };
  documentation: boolean;
  read: boolean;
  formula?: FormulaDoc;
  source: Loc;
}

export interface RecordSchema {
  name: string;
  description?: string;
  fields: FactSchema[];
  source: Loc;
}

export interface CodeSetDoc {
  name?: string;
  system: string;
  description?: string;
  codes: string[];
  source: Loc;
}

export type Ref = { node: number } | { leaf: number };

export type Cond =
  | { kind: "const"; value: boolean }
  | { kind: "and"; all: Cond[] }
  | { kind: "or"; any: Cond[] }
  | { kind: "not"; not: Cond }
  | { kind: "is_true"; field: number }
  | { kind: "compare"; field: number; op: string; value: string }
  | { kind: "enum_in"; field: number; values: string[] }
  | { kind: "code_in"; field: number; set: number }
  | { kind: "window"; field: number; before: number; amount: number; unit: string }
  | { kind: "field_is"; field: number; op: string; fact: number };

export type Test =
  | { kind: "is_true" }
  | { kind: "compare"; op: string; value: string }
  | { kind: "enum_in"; values: string[] }
  | { kind: "code_in"; set: number }
  | { kind: "has"; quantifier: "any" | "all"; in: number[]; not_in: number[] }
  | { kind: "difference"; other: number; op: string; value: string; unit?: string }
  | { kind: "count"; op: string; value: string; where?: Cond };

export interface NodeDoc {
  fact: number;
  test: Test;
  then: Ref;
  else: Ref;
}

export type LeafDoc =
  | { kind: "rule"; outcome: string; rule: string }
  | { kind: "otherwise"; outcome: string }
  | { kind: "no_rule" }
  | { kind: "conflict"; rules: string[]; outcomes: string[] };

export interface DecisionDoc {
  name: string;
  hit: string;
  description?: string;
  outcomes: string[];
  root: Ref;
  nodes: NodeDoc[];
  leaves: LeafDoc[];
  source: Loc;
  source_map: { nodes: Loc[]; leaves: Loc[] };
}

export interface Document {
  format: string;
  policy: PolicyMeta;
  files: string[];
  tables: { system: string; release: string }[];
  facts: FactSchema[];
  records: RecordSchema[];
  code_sets: CodeSetDoc[];
  decisions: DecisionDoc[];
  hash: string;
}

// ------------------------------------------------------------------ reading

class SchemaError extends Error {}

function fail(where: string, what: string): never {
  throw new SchemaError(`${where}: ${what}`);
}

/** An object's fields, the last of a repeated key winning (as medpol's JSON value keeps it). */
function fields(v: JValue | undefined, where: string, allowed: readonly string[] | null): Map<string, JValue> {
  if (!(v instanceof JObject)) fail(where, "expected an object");
  const m = new Map<string, JValue>();
  for (const [k, x] of v.entries) {
    if (allowed !== null && !allowed.includes(k)) fail(where, `unknown field \`${k}\``);
    m.set(k, x);
  }
  return m;
}

function required(m: Map<string, JValue>, key: string, where: string): JValue {
  if (!m.has(key)) fail(where, `missing field \`${key}\``);
  return m.get(key) as JValue;
}

function str(v: JValue, where: string): string {
  if (typeof v !== "string") fail(where, "expected a string");
  return v;
}

function u32(v: JValue, where: string): number {
  if (!(v instanceof JNumber) || !/^(0|[1-9][0-9]*)$/.test(v.text) || BigInt(v.text) > 0xffffffffn) {
    fail(where, "expected a whole number from 0 to 4294967295");
  }
  return Number(v.text);
}

function bool(v: JValue, where: string): boolean {
  if (typeof v !== "boolean") fail(where, "expected `true` or `false`");
  return v;
}

function list<T>(v: JValue, where: string, item: (x: JValue, where: string) => T): T[] {
  if (!Array.isArray(v)) fail(where, "expected a list");
  return v.map((x, i) => item(x, `${where}[${i}]`));
}

function reqStr(m: Map<string, JValue>, key: string, where: string): string {
  return str(required(m, key, where), `${where}.${key}`);
}

function reqU32(m: Map<string, JValue>, key: string, where: string): number {
  return u32(required(m, key, where), `${where}.${key}`);
}

/** An optional field: absent or `null` is none. */
function opt<T>(m: Map<string, JValue>, key: string, where: string, read: (v: JValue, where: string) => T): T | undefined {
  const v = m.get(key);
  return v === undefined || v === null ? undefined : read(v, `${where}.${key}`);
}

/** A field with a default when absent (`null` is not absent). */
function withDefault<T>(m: Map<string, JValue>, key: string, where: string, read: (v: JValue, where: string) => T, dflt: T): T {
  return m.has(key) ? read(m.get(key) as JValue, `${where}.${key}`) : dflt;
}

const strings = (v: JValue, where: string) => list(v, where, str);
const u32s = (v: JValue, where: string) => list(v, where, u32);

function loc(v: JValue, where: string): Loc {
  const m = fields(v, where, ["file", "line", "column", "rule", "text", "agrees"]);
  const out: Loc = {
    file: reqU32(m, "file", where),
    line: reqU32(m, "line", where),
    column: reqU32(m, "column", where),
    text: "",
  };
  const rule = opt(m, "rule", where, str);
  if (rule !== undefined) out.rule = rule;
  out.text = reqStr(m, "text", where);
  const agrees = opt(m, "agrees", where, bool);
  if (agrees !== undefined) out.agrees = agrees;
  return out;
}

function formula(v: JValue, where: string): FormulaDoc {
  const m = fields(v, where, null);
  if (m.size !== 1 || !(v instanceof JObject) || v.entries.length !== 1) fail(where, "expected one of `fact`, `number`, `add`, `sub`, `mul`, `div`");
  const [key, x] = [...m][0];
  const pair = (): [FormulaDoc, FormulaDoc] => {
    if (!Array.isArray(x) || x.length !== 2) fail(`${where}.${key}`, "expected two formulas");
    return [formula(x[0], `${where}.${key}[0]`), formula(x[1], `${where}.${key}[1]`)];
  };
  switch (key) {
    case "fact":
      return { fact: u32(x, `${where}.fact`) };
    case "number":
      return { number: str(x, `${where}.number`) };
    case "add":
      return { add: pair() };
    case "sub":
      return { sub: pair() };
    case "mul":
      return { mul: pair() };
    case "div":
      return { div: pair() };
    default:
      return fail(where, `unknown formula \`${key}\``);
  }
}

function factSchema(v: JValue, where: string): FactSchema {
  const m = fields(v, where, ["name", "type", "unit", "values", "system", "record", "description", "range", "documentation", "read", "formula", "source"]);
  const type = reqStr(m, "type", where);
  if (!FACT_TYPES.includes(type)) fail(`${where}.type`, `unknown type \`${type}\``);
  const out: FactSchema = {
    name: reqStr(m, "name", where),
    type: type as FactType,
    values: withDefault(m, "values", where, strings, []),
    documentation: withDefault(m, "documentation", where, bool, false),
    read: withDefault(m, "read", where, bool, true),
    source: loc(required(m, "source", where), `${where}.source`),
  };
  const unit = opt(m, "unit", where, str);
  if (unit !== undefined) out.unit = unit;
  const system = opt(m, "system", where, str);
  if (system !== undefined) out.system = system;
  const record = opt(m, "record", where, u32);
  if (record !== undefined) out.record = record;
  const description = opt(m, "description", where, str);
  if (description !== undefined) out.description = description;
  const range = opt(m, "range", where, (x, w) => {
    const r = fields(x, w, ["min", "max"]);
    return { min: reqStr(r, "min", w), max: reqStr(r, "max", w) };
  });
  if (range !== undefined) out.range = range;
  const f = opt(m, "formula", where, formula);
  if (f !== undefined) out.formula = f;
  return out;
}

function ref(v: JValue, where: string): Ref {
  if (!(v instanceof JObject) || v.entries.length !== 1) fail(where, "expected `{\"node\": i}` or `{\"leaf\": i}`");
  const [key, x] = v.entries[0];
  if (key === "node") return { node: u32(x, `${where}.node`) };
  if (key === "leaf") return { leaf: u32(x, `${where}.leaf`) };
  return fail(where, `unknown reference \`${key}\``);
}

/** The tag of an internally tagged value and its other fields, checked against `allowed`. */
function tagged(v: JValue, where: string, variants: Record<string, readonly string[] | null>): [string, Map<string, JValue>] {
  const m = fields(v, where, null);
  const kind = str(required(m, "kind", where), `${where}.kind`);
  if (!Object.prototype.hasOwnProperty.call(variants, kind)) fail(`${where}.kind`, `unknown kind \`${kind}\``);
  const allowed = variants[kind];
  // A variant without fields takes any other field, as medpol's reader does.
  if (allowed !== null) {
    for (const k of m.keys()) {
      if (k !== "kind" && !allowed.includes(k)) fail(where, `unknown field \`${k}\``);
    }
  }
  return [kind, m];
}

function cond(v: JValue, where: string): Cond {
  const [kind, m] = tagged(v, where, {
    const: ["value"],
    and: ["all"],
    or: ["any"],
    not: ["not"],
    is_true: ["field"],
    compare: ["field", "op", "value"],
    enum_in: ["field", "values"],
    code_in: ["field", "set"],
    window: ["field", "before", "amount", "unit"],
    field_is: ["field", "op", "fact"],
  });
  const w = where;
  switch (kind) {
    case "const":
      return { kind, value: bool(required(m, "value", w), `${w}.value`) };
    case "and":
      return { kind, all: list(required(m, "all", w), `${w}.all`, cond) };
    case "or":
      return { kind, any: list(required(m, "any", w), `${w}.any`, cond) };
    case "not":
      return { kind, not: cond(required(m, "not", w), `${w}.not`) };
    case "is_true":
      return { kind, field: reqU32(m, "field", w) };
    case "compare":
      return { kind, field: reqU32(m, "field", w), op: reqStr(m, "op", w), value: reqStr(m, "value", w) };
    case "enum_in":
      return { kind, field: reqU32(m, "field", w), values: strings(required(m, "values", w), `${w}.values`) };
    case "code_in":
      return { kind, field: reqU32(m, "field", w), set: reqU32(m, "set", w) };
    case "window":
      return { kind, field: reqU32(m, "field", w), before: reqU32(m, "before", w), amount: reqU32(m, "amount", w), unit: reqStr(m, "unit", w) };
    default:
      return { kind: "field_is", field: reqU32(m, "field", w), op: reqStr(m, "op", w), fact: reqU32(m, "fact", w) };
  }
}

function test(v: JValue, where: string): Test {
  const [kind, m] = tagged(v, where, {
    is_true: null,
    compare: ["op", "value"],
    enum_in: ["values"],
    code_in: ["set"],
    has: ["quantifier", "in", "not_in"],
    difference: ["other", "op", "value", "unit"],
    count: ["op", "value", "where"],
  });
  const w = where;
  switch (kind) {
    case "is_true":
      return { kind };
    case "compare":
      return { kind, op: reqStr(m, "op", w), value: reqStr(m, "value", w) };
    case "enum_in":
      return { kind, values: strings(required(m, "values", w), `${w}.values`) };
    case "code_in":
      return { kind, set: reqU32(m, "set", w) };
    case "has": {
      const q = reqStr(m, "quantifier", w);
      if (q !== "any" && q !== "all") fail(`${w}.quantifier`, `unknown quantifier \`${q}\``);
      return { kind, quantifier: q, in: u32s(required(m, "in", w), `${w}.in`), not_in: u32s(required(m, "not_in", w), `${w}.not_in`) };
    }
    case "difference": {
      const t: Test = { kind, other: reqU32(m, "other", w), op: reqStr(m, "op", w), value: reqStr(m, "value", w) };
      const unit = opt(m, "unit", w, str);
      if (unit !== undefined) t.unit = unit;
      return t;
    }
    default: {
      const t: Test = { kind: "count", op: reqStr(m, "op", w), value: reqStr(m, "value", w) };
      const filter = opt(m, "where", w, cond);
      if (filter !== undefined) t.where = filter;
      return t;
    }
  }
}

function leaf(v: JValue, where: string): LeafDoc {
  const [kind, m] = tagged(v, where, {
    rule: ["outcome", "rule"],
    otherwise: ["outcome"],
    no_rule: null,
    conflict: ["rules", "outcomes"],
  });
  switch (kind) {
    case "rule":
      return { kind, outcome: reqStr(m, "outcome", where), rule: reqStr(m, "rule", where) };
    case "otherwise":
      return { kind, outcome: reqStr(m, "outcome", where) };
    case "no_rule":
      return { kind };
    default:
      return { kind: "conflict", rules: strings(required(m, "rules", where), `${where}.rules`), outcomes: strings(required(m, "outcomes", where), `${where}.outcomes`) };
  }
}

function decision(v: JValue, where: string): DecisionDoc {
  const m = fields(v, where, ["name", "hit", "description", "outcomes", "root", "nodes", "leaves", "source", "source_map"]);
  const d: DecisionDoc = {
    name: reqStr(m, "name", where),
    hit: reqStr(m, "hit", where),
    outcomes: strings(required(m, "outcomes", where), `${where}.outcomes`),
    root: ref(required(m, "root", where), `${where}.root`),
    nodes: list(required(m, "nodes", where), `${where}.nodes`, (x, w) => {
      const n = fields(x, w, ["fact", "test", "then", "else"]);
      return {
        fact: reqU32(n, "fact", w),
        test: test(required(n, "test", w), `${w}.test`),
        then: ref(required(n, "then", w), `${w}.then`),
        else: ref(required(n, "else", w), `${w}.else`),
      };
    }),
    leaves: list(required(m, "leaves", where), `${where}.leaves`, leaf),
    source: loc(required(m, "source", where), `${where}.source`),
    source_map: (() => {
      const w = `${where}.source_map`;
      const s = fields(required(m, "source_map", where), w, ["nodes", "leaves"]);
      return {
        nodes: list(required(s, "nodes", w), `${w}.nodes`, loc),
        leaves: list(required(s, "leaves", w), `${w}.leaves`, loc),
      };
    })(),
  };
  const description = opt(m, "description", where, str);
  if (description !== undefined) d.description = description;
  return d;
}

function document(v: JValue): Document {
  const w = "artifact";
  const m = fields(v, w, ["format", "policy", "files", "tables", "facts", "records", "code_sets", "decisions", "hash"]);
  const pw = `${w}.policy`;
  const p = fields(required(m, "policy", w), pw, ["id", "title", "version", "effective", "ends", "description", "references", "related", "source"]);
  const policy: PolicyMeta = {
    id: reqStr(p, "id", pw),
    title: reqStr(p, "title", pw),
    version: reqStr(p, "version", pw),
    references: withDefault(p, "references", pw, strings, []),
    related: withDefault(p, "related", pw, strings, []),
    source: loc(required(p, "source", pw), `${pw}.source`),
  };
  for (const key of ["effective", "ends", "description"] as const) {
    const x = opt(p, key, pw, str);
    if (x !== undefined) policy[key] = x;
  }
  return {
    format: reqStr(m, "format", w),
    policy,
    files: strings(required(m, "files", w), `${w}.files`),
    tables: list(required(m, "tables", w), `${w}.tables`, (x, tw) => {
      const t = fields(x, tw, ["system", "release"]);
      return { system: reqStr(t, "system", tw), release: reqStr(t, "release", tw) };
    }),
    facts: list(required(m, "facts", w), `${w}.facts`, factSchema),
    records: withDefault(m, "records", w, (x, rw) =>
      list(x, rw, (r, fw) => {
        const f = fields(r, fw, ["name", "description", "fields", "source"]);
        const rec: RecordSchema = {
          name: reqStr(f, "name", fw),
          fields: list(required(f, "fields", fw), `${fw}.fields`, factSchema),
          source: loc(required(f, "source", fw), `${fw}.source`),
        };
        const description = opt(f, "description", fw, str);
        if (description !== undefined) rec.description = description;
        return rec;
      }), []),
    code_sets: list(required(m, "code_sets", w), `${w}.code_sets`, (x, cw) => {
      const c = fields(x, cw, ["name", "system", "description", "codes", "source"]);
      const set: CodeSetDoc = {
        system: reqStr(c, "system", cw),
        codes: strings(required(c, "codes", cw), `${cw}.codes`),
        source: loc(required(c, "source", cw), `${cw}.source`),
      };
      const name = opt(c, "name", cw, str);
      if (name !== undefined) set.name = name;
      const description = opt(c, "description", cw, str);
      if (description !== undefined) set.description = description;
      return set;
    }),
    decisions: list(required(m, "decisions", w), `${w}.decisions`, decision),
    hash: withDefault(m, "hash", w, str, ""),
  };
}

/** Checks that every number of a JSON value is one medpol reads (no float out of range). */
function numbersInRange(v: JValue, depth: number): void {
  // medpol's JSON reader refuses 128 lists and objects nested in each other.
  if ((Array.isArray(v) || v instanceof JObject) && depth >= 127) {
    throw new LoadError("syntax", "not valid JSON: lists and objects nested too deep");
  }
  if (v instanceof JNumber) {
    // medpol's JSON reader takes a number that is not a whole number of 64 bits as a float.
    if (!Number.isFinite(Number(v.text))) throw new LoadError("syntax", "not valid JSON: a number out of range");
  } else if (Array.isArray(v)) {
    for (const x of v) numbersInRange(x, depth + 1);
  } else if (v instanceof JObject) {
    for (const [, x] of v.entries) numbersInRange(x, depth + 1);
  }
}

/** Reads an artifact's text: JSON, a known format id, every field as the format has it. */
export function readDocument(text: string): Document {
  let value: JValue;
  try {
    // Artifacts are written by medpol without a byte order mark, and medpol refuses one.
    const r = new Reader(text, false);
    value = r.value();
    r.end();
  } catch (e) {
    if (e instanceof JsonError) throw new LoadError("syntax", `not valid JSON: ${e.what}`);
    throw e;
  }
  numbersInRange(value, 0);
  let format = "";
  if (value instanceof JObject) {
    const f = fields(value, "artifact", null).get("format");
    if (typeof f === "string") format = f;
  }
  if (format !== FORMAT && format !== FORMAT_1) {
    throw new LoadError("format", `not a \`${FORMAT}\` artifact (format \`${shorten(format)}\`)`);
  }
  try {
    return document(value);
  } catch (e) {
    if (e instanceof SchemaError) throw new LoadError("schema", `not a valid \`${FORMAT}\` artifact: ${e.message}`);
    throw e;
  }
}

export function shorten(text: string, most = 40): string {
  const chars = [...text];
  return chars.length > most ? `${chars.slice(0, most).join("")}…` : text;
}

// ------------------------------------------------------------------ the canonical form

/** Writes JSON as medpol does: compact, fields in the format's order, absent ones left out. */
class Writer {
  out = "";
  private first: boolean[] = [];

  open(c: "{" | "["): this {
    this.sep();
    this.out += c;
    this.first.push(true);
    return this;
  }

  close(c: "}" | "]"): this {
    this.out += c;
    this.first.pop();
    return this;
  }

  private sep(): void {
    const n = this.first.length;
    if (n === 0) return;
    if (this.first[n - 1]) this.first[n - 1] = false;
    else this.out += ",";
  }

  key(k: string): this {
    this.sep();
    this.out += `${JSON.stringify(k)}:`;
    // The value follows the key without a separator of its own.
    this.first.push(true);
    return this;
  }

  /** After a key's value: back to the object's level. */
  private done(): void {
    this.first.pop();
  }

  str(k: string, v: string | undefined): this {
    if (v === undefined) return this;
    this.key(k);
    this.out += JSON.stringify(v);
    this.done();
    return this;
  }

  num(k: string, v: number | undefined): this {
    if (v === undefined) return this;
    this.key(k);
    this.out += String(v);
    this.done();
    return this;
  }

  bool(k: string, v: boolean | undefined): this {
    if (v === undefined) return this;
    this.key(k);
    this.out += v ? "true" : "false";
    this.done();
    return this;
  }

  strs(k: string, v: string[]): this {
    this.key(k);
    this.out += `[${v.map((s) => JSON.stringify(s)).join(",")}]`;
    this.done();
    return this;
  }

  nums(k: string, v: number[]): this {
    this.key(k);
    this.out += `[${v.join(",")}]`;
    this.done();
    return this;
  }

  /** A field whose value `write` writes. */
  with(k: string, write: () => void): this {
    this.key(k);
    write();
    this.done();
    return this;
  }

  list<T>(k: string, items: T[], write: (x: T) => void): this {
    return this.with(k, () => {
      this.open("[");
      for (const x of items) write(x);
      this.close("]");
    });
  }
}

function writeLoc(w: Writer, l: Loc): void {
  w.open("{").num("file", l.file).num("line", l.line).num("column", l.column).str("rule", l.rule).str("text", l.text).bool("agrees", l.agrees).close("}");
}

function writeFormula(w: Writer, f: FormulaDoc): void {
  w.open("{");
  if ("fact" in f) w.num("fact", f.fact);
  else if ("number" in f) w.str("number", f.number);
  else {
    const [k, pair] = Object.entries(f)[0] as [string, [FormulaDoc, FormulaDoc]];
    w.list(k, pair, (x) => writeFormula(w, x));
  }
  w.close("}");
}

function writeFact(w: Writer, f: FactSchema): void {
  w.open("{").str("name", f.name).str("type", f.type).str("unit", f.unit);
  if (f.values.length > 0) w.strs("values", f.values);
  w.str("system", f.system).num("record", f.record).str("description", f.description);
  if (f.range !== undefined) {
    const r = f.range;
    w.with("range", () => w.open("{").str("min", r.min).str("max", r.max).close("}"));
  }
  if (f.documentation) w.bool("documentation", true);
  if (!f.read) w.bool("read", false);
  if (f.formula !== undefined) {
    const formula = f.formula;
    w.with("formula", () => writeFormula(w, formula));
  }
  w.with("source", () => writeLoc(w, f.source)).close("}");
}

function writeRef(w: Writer, r: Ref): void {
  w.open("{");
  if ("node" in r) w.num("node", r.node);
  else w.num("leaf", r.leaf);
  w.close("}");
}

function writeCond(w: Writer, c: Cond): void {
  w.open("{").str("kind", c.kind);
  switch (c.kind) {
    case "const":
      w.bool("value", c.value);
      break;
    case "and":
      w.list("all", c.all, (x) => writeCond(w, x));
      break;
    case "or":
      w.list("any", c.any, (x) => writeCond(w, x));
      break;
    case "not":
      w.with("not", () => writeCond(w, c.not));
      break;
    case "is_true":
      w.num("field", c.field);
      break;
    case "compare":
      w.num("field", c.field).str("op", c.op).str("value", c.value);
      break;
    case "enum_in":
      w.num("field", c.field).strs("values", c.values);
      break;
    case "code_in":
      w.num("field", c.field).num("set", c.set);
      break;
    case "window":
      w.num("field", c.field).num("before", c.before).num("amount", c.amount).str("unit", c.unit);
      break;
    case "field_is":
      w.num("field", c.field).str("op", c.op).num("fact", c.fact);
      break;
  }
  w.close("}");
}

function writeTest(w: Writer, t: Test): void {
  w.open("{").str("kind", t.kind);
  switch (t.kind) {
    case "is_true":
      break;
    case "compare":
      w.str("op", t.op).str("value", t.value);
      break;
    case "enum_in":
      w.strs("values", t.values);
      break;
    case "code_in":
      w.num("set", t.set);
      break;
    case "has":
      w.str("quantifier", t.quantifier).nums("in", t.in).nums("not_in", t.not_in);
      break;
    case "difference":
      w.num("other", t.other).str("op", t.op).str("value", t.value).str("unit", t.unit);
      break;
    case "count":
      w.str("op", t.op).str("value", t.value);
      if (t.where !== undefined) {
        const c = t.where;
        w.with("where", () => writeCond(w, c));
      }
      break;
  }
  w.close("}");
}

function writeLeaf(w: Writer, l: LeafDoc): void {
  w.open("{").str("kind", l.kind);
  if (l.kind === "rule") w.str("outcome", l.outcome).str("rule", l.rule);
  else if (l.kind === "otherwise") w.str("outcome", l.outcome);
  else if (l.kind === "conflict") w.strs("rules", l.rules).strs("outcomes", l.outcomes);
  w.close("}");
}

/** The canonical form: compact JSON of the document without `hash`. */
export function canonical(doc: Document): string {
  const w = new Writer();
  const p = doc.policy;
  w.open("{").str("format", doc.format);
  w.with("policy", () => {
    w.open("{").str("id", p.id).str("title", p.title).str("version", p.version).str("effective", p.effective).str("ends", p.ends).str("description", p.description);
    w.strs("references", p.references).strs("related", p.related).with("source", () => writeLoc(w, p.source)).close("}");
  });
  w.strs("files", doc.files);
  w.list("tables", doc.tables, (t) => w.open("{").str("system", t.system).str("release", t.release).close("}"));
  w.list("facts", doc.facts, (f) => writeFact(w, f));
  if (doc.records.length > 0) {
    w.list("records", doc.records, (r) => {
      w.open("{").str("name", r.name).str("description", r.description);
      w.list("fields", r.fields, (f) => writeFact(w, f)).with("source", () => writeLoc(w, r.source)).close("}");
    });
  }
  w.list("code_sets", doc.code_sets, (s) => {
    w.open("{").str("name", s.name).str("system", s.system).str("description", s.description).strs("codes", s.codes);
    w.with("source", () => writeLoc(w, s.source)).close("}");
  });
  w.list("decisions", doc.decisions, (d) => {
    w.open("{").str("name", d.name).str("hit", d.hit).str("description", d.description).strs("outcomes", d.outcomes);
    w.with("root", () => writeRef(w, d.root));
    w.list("nodes", d.nodes, (n) => {
      w.open("{").num("fact", n.fact).with("test", () => writeTest(w, n.test));
      w.with("then", () => writeRef(w, n.then)).with("else", () => writeRef(w, n.else)).close("}");
    });
    w.list("leaves", d.leaves, (l) => writeLeaf(w, l));
    w.with("source", () => writeLoc(w, d.source));
    w.with("source_map", () => {
      w.open("{").list("nodes", d.source_map.nodes, (l) => writeLoc(w, l)).list("leaves", d.source_map.leaves, (l) => writeLoc(w, l)).close("}");
    });
    w.close("}");
  });
  w.close("}");
  return w.out;
}
