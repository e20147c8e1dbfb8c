// A patient's facts, read from JSON text (or set one by one) and checked against an
// artifact's input schema. Each key is bound as it is read, in the order written, so the first
// fault met is the one reported, as medpol reports it.

import { type System, displaySystem, parseCode, parseSystem } from "./codes.js";
import { dayNumber, parseDate } from "./date.js";
import { type FactSchema, shorten } from "./document.js";
import type { Bound, FactKind, Inner } from "./eval.js";
import { formulaValue } from "./formula.js";
import { JNumber, JObject, type JValue, JsonError, Reader, type SerdeNumber, place, serdeNumber, serdeNumberValue } from "./json.js";
import { MAX_DIGITS, type Num, cmp, int, isInteger, mul, parseDecimal, parseNum, show } from "./num.js";
import { CODES, type Slot } from "./slots.js";
import { type Unit, PERCENT, describeUnit, exactFactor, parseUnit, unitHint } from "./units.js";

/** Why facts are bad, by the kinds of `tests/conformance/README.md`. */
export type FactErrorKind =
  | "syntax"
  | "not_object"
  | "duplicate_key"
  | "unknown_fact"
  | "wrong_type"
  | "missing_unit"
  | "unknown_unit"
  | "wrong_unit"
  | "out_of_range"
  | "bad_date"
  | "unknown_value"
  | "bad_code"
  | "unknown_field"
  | "derived";

/** Facts that do not fit the schema: nothing is evaluated. */
export class FactError extends Error {
  constructor(
    readonly kind: FactErrorKind,
    /** The fact at fault (`null` for text that is not JSON, or not an object). */
    readonly fact: string | null,
    message: string,
  ) {
    super(message);
    this.name = "FactError";
  }
}

/** How facts are read. */
export interface FactsOptions {
  /** What a key that is not a fact does: `reject` (the default) makes the facts bad; `ignore` skips it. */
  unknownFacts?: "reject" | "ignore";
  /** Keys that are not facts but are kept, value and all (a claim id), in `Facts.carried`. */
  carry?: string[];
}

/**
 * A JSON value as medpol holds it once read: numbers as 64-bit integers or floats (see
 * `serdeNumber`), objects with sorted keys (the last of a repeated key winning).
 */
type SValue = null | boolean | string | SNum | SValue[] | Map<string, SValue>;

class SNum {
  constructor(
    readonly n: SerdeNumber,
    readonly text: string,
  ) {}
}

/** A value medpol's JSON reader cannot hold: a float out of range, or 128 lists and objects nested. */
class OutOfRange extends Error {}

function toSValue(v: JValue, depth = 0): SValue {
  if (v instanceof JNumber) {
    const n = serdeNumber(v.text);
    if (n === null) throw new OutOfRange();
    return new SNum(n, v.text);
  }
  if (Array.isArray(v) || v instanceof JObject) {
    if (depth >= 127) throw new OutOfRange();
    if (Array.isArray(v)) return v.map((x) => toSValue(x, depth + 1));
    const entries = new Map<string, SValue>();
    for (const [k, x] of v.entries) entries.set(k, toSValue(x, depth + 1));
    return new Map([...entries].sort(([a], [b]) => byCodePoint(a, b)));
  }
  return v;
}

function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return (x[i].codePointAt(0) as number) - (y[i].codePointAt(0) as number);
  }
  return x.length - y.length;
}

/** A value as compact JSON, for messages. */
function render(v: SValue): string {
  if (v instanceof SNum) return v.text;
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `${JSON.stringify(k)}:${render(x)}`).join(",")}}`;
  if (Array.isArray(v)) return `[${v.map(render).join(",")}]`;
  return JSON.stringify(v);
}

/** Trims white space as medpol does (Unicode's White_Space). */
function trim(s: string): string {
  return s.replace(/^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g, "");
}

const WHITE_SPACE = /[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

function levenshtein(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  let row = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const next = [i];
    for (let j = 1; j <= y.length; j++) {
      next.push(Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1)));
    }
    row = next;
  }
  return row[y.length];
}

function bad(kind: FactErrorKind, fact: string, message: string): FactError {
  return new FactError(kind, fact, message);
}

/** A number given as a JSON number or a string holding one; `null` when it is neither. */
function plainNumber(v: SValue): Num | null {
  const n = numberOf(v);
  return n === "too-large" ? null : n;
}

/**
 * As `plainNumber`, telling a JSON number with more digits than a number of facts holds
 * (`"too-large"`, out of range for an `int` or `decimal` fact) from a value that is no number.
 */
function numberOf(v: SValue): Num | "too-large" | null {
  if (v instanceof SNum) return serdeNumberValue(v.n);
  if (typeof v === "string") return parseDecimal(trim(v));
  return null;
}

function example(to: Unit): string {
  return to === PERCENT ? '`"28.5%"`' : `\`"6 ${to.name}"\``;
}

/** An amount converted exactly from one unit into the fact's, and checked for its bounds. */
function convert(name: string, amount: Num, from: Unit, to: Unit): Num {
  let value = amount;
  if (from !== to) {
    const factor = exactFactor(from, to);
    if (factor === null) {
      throw bad(
        "wrong_unit",
        name,
        from.ucum || to.ucum
          ? `fact \`${name}\` is ${describeUnit(to)}; \`${from.name}\` is ${describeUnit(from)}`
          : `fact \`${name}\` is in ${to.name}; ${from.name} do not convert exactly to it`,
      );
    }
    const scaled = mul(amount, factor);
    if (scaled === null) throw bad("out_of_range", name, `fact \`${name}\`: the value is too large`);
    value = scaled;
  }
  if (value.n < 0n && to.nonnegative) throw bad("out_of_range", name, `fact \`${name}\` cannot be negative`);
  if (to === PERCENT && cmp(value, int(100)) > 0) throw bad("out_of_range", name, `fact \`${name}\` is a percentage, at most 100%`);
  return value;
}

function quantityParts(name: string, amountText: string, unitText: string, to: Unit): Num {
  if (unitText === "") {
    throw bad("missing_unit", name, `fact \`${name}\` needs a unit: write ${example(to)}, not \`${shorten(amountText)}\``);
  }
  const amount = parseNum(amountText);
  if (amount === null) throw bad("wrong_type", name, `fact \`${name}\`: \`${shorten(amountText)}\` is not a number`);
  const from = parseUnit(unitText);
  if (from === null) {
    throw bad(
      "unknown_unit",
      name,
      `fact \`${name}\`: \`${shorten(unitText)}\` is not a unit (days, weeks, months, years, % or a ucum code such as kg)${unitHint(unitText)}`,
    );
  }
  return convert(name, amount, from, to);
}

/** A quantity written as text: `8 weeks`, `28.5%`, `154 [lb_av]`. */
function quantityText(name: string, s: string, to: Unit): Num {
  const t = trim(s);
  if (t.endsWith("%")) return quantityParts(name, trim(t.slice(0, -1)), "%", to);
  const m = WHITE_SPACE.exec(t);
  if (m === null) return quantityParts(name, t, "", to);
  return quantityParts(name, t.slice(0, m.index), trim(t.slice(m.index + m[0].length)), to);
}

function quantity(name: string, v: SValue, to: Unit): Num {
  if (typeof v === "string") return quantityText(name, v, to);
  if (v instanceof Map) {
    const value = v.get("value");
    const amount = value === undefined ? null : plainNumber(value);
    const unit = v.get("unit");
    if (amount === null) {
      throw bad("wrong_type", name, `fact \`${name}\` needs a number in \`value\`, such as \`{"value": 6, "unit": "${to.name}"}\``);
    }
    return quantityParts(name, show(amount), typeof unit === "string" ? unit : "", to);
  }
  if (v instanceof SNum) return quantityParts(name, v.text, "", to);
  throw bad("wrong_type", name, `fact \`${name}\` is a quantity with its unit, such as ${example(to)}`);
}

function dateValue(name: string, text: string): Num {
  const d = parseDate(text);
  if (d === null) throw bad("bad_date", name, `fact \`${name}\` is a date such as \`2009-02-12\`, not \`${shorten(text)}\``);
  return int(dayNumber(d));
}

function enumValue(schema: FactSchema, text: string): number {
  const at = schema.values.indexOf(text);
  if (at < 0) {
    throw bad("unknown_value", schema.name, `\`${shorten(text)}\` is not a value of fact \`${schema.name}\`; its values are ${schema.values.join(", ")}`);
  }
  return at;
}

function wrongValue(name: string, expected: string, v: SValue): FactError {
  return bad("wrong_type", name, `fact \`${name}\` is ${expected}, not \`${shorten(render(v))}\``);
}

/** The unit a duration, percentage or measurement is kept in. */
function unitOf(kind: FactKind): Unit {
  return kind.unit;
}

/** A patient's facts, bound to one artifact's input schema. */
export class Facts implements Bound {
  readonly inner: Inner;
  readonly slots: Slot[];
  readonly classCounts: number[];
  private readonly options: Required<FactsOptions>;
  private carriedValues = new Map<string, unknown>();
  /** A derived value the facts leave without a value, and why. */
  private undefinedValue: FactError | null = null;
  private scratch: number[] = [];

  constructor(artifact: { readonly inner: Inner }, options: FactsOptions = {}) {
    this.inner = artifact.inner;
    this.options = { unknownFacts: options.unknownFacts ?? "reject", carry: options.carry ?? [] };
    this.slots = new Array<Slot>(this.inner.doc.facts.length).fill(undefined);
    this.classCounts = new Array<number>(this.inner.classes.length).fill(0);
  }

  /** Reads facts from JSON text into a new `Facts`. */
  static fromJson(artifact: { readonly inner: Inner }, text: string, options: FactsOptions = {}): Facts {
    const f = new Facts(artifact, options);
    f.readJson(text);
    return f;
  }

  /** Forgets every fact and carried value. */
  clear(): void {
    this.slots.fill(undefined);
    this.classCounts.fill(0);
    this.carriedValues.clear();
    this.undefinedValue = null;
  }

  /** The values of the carried keys the last read found. */
  get carried(): ReadonlyMap<string, unknown> {
    return this.carriedValues;
  }

  /** Whether a fact is known. */
  isKnown(name: string): boolean {
    const i = this.inner.byName.get(name);
    return i !== undefined && this.slots[i] !== undefined;
  }

  /**
   * Reads one patient's facts from JSON text (one object of fact names and values), each bound
   * as it is read. Throws a `FactError` on bad facts; then no fact is known.
   */
  readJson(text: string): void {
    this.clear();
    try {
      this.readObject(text);
    } catch (e) {
      this.clear();
      if (e instanceof JsonError) throw notJson(text, e);
      throw e;
    }
  }

  private readObject(text: string): void {
    const r = new Reader(text);
    if (r.peek() !== 0x7b) {
      r.value();
      r.end();
      throw new FactError("not_object", null, "the facts must be an object of fact names and values");
    }
    r.expect(0x7b, "expected `{`");
    const seen = new Map<number, number>();
    const others = new Map<string, number>();
    let bound = false;
    if (!r.eat(0x7d)) {
      for (;;) {
        r.peek();
        const at = r.at;
        const name = r.key();
        const index = this.inner.byName.get(name);
        if (index !== undefined) {
          const before = seen.get(index);
          if (before !== undefined) throw givenTwice(text, name, before, at);
          seen.set(index, at);
          this.readFact(r, index);
          bound = true;
        } else {
          const before = others.get(name);
          if (before !== undefined) throw givenTwice(text, name, before, at);
          // medpol remembers the first 64 such keys of an object to find one given twice.
          if (others.size < 64) others.set(name, at);
          const value = r.value();
          this.otherKey(name, value);
        }
        if (r.eat(0x2c)) continue;
        r.expect(0x7d, "expected `,` or `}`");
        break;
      }
    }
    r.end();
    if (bound) this.settle();
  }

  private readFact(r: Reader, index: number): void {
    const kind = this.inner.kinds[index];
    if (kind.type === "codes" && r.peek() === 0x5b) {
      this.codeList(r, index);
      return;
    }
    let v: SValue;
    try {
      v = toSValue(r.value());
    } catch (e) {
      if (!(e instanceof OutOfRange)) throw e;
      const name = this.name(index);
      throw bad("out_of_range", name, `fact \`${name}\`: a number is out of range`);
    }
    this.bindValue(index, v);
  }

  /** A list of codes at its `[`: each code checked as it is read. */
  private codeList(r: Reader, index: number): void {
    r.expect(0x5b, "expected `[`");
    this.scratch = [];
    let position = 0;
    if (!r.eat(0x5d)) {
      for (;;) {
        position++;
        if (r.peek() === 0x22) {
          const c = this.code(index, r.string());
          if (c >= 0) this.scratch.push(c);
        } else {
          const item = r.value();
          const name = this.name(index);
          let shown = "null";
          try {
            shown = render(toSValue(item));
          } catch (e) {
            if (!(e instanceof OutOfRange)) throw e;
          }
          throw bad("wrong_type", name, `fact \`${name}\` is a list of codes; its item ${position} is \`${shorten(shown)}\`, not a code`);
        }
        if (r.eat(0x2c)) continue;
        r.expect(0x5d, "expected `,` or `]`");
        break;
      }
    }
    this.countClasses(index);
  }

  private otherKey(name: string, value: JValue): void {
    if (this.options.carry.includes(name)) {
      let carried: unknown = null;
      try {
        carried = plain(toSValue(value));
      } catch (e) {
        if (!(e instanceof OutOfRange)) throw e;
      }
      this.carriedValues.set(name, carried);
      return;
    }
    if (this.options.unknownFacts === "ignore") return;
    throw this.unknownFact(name);
  }

  private unknownFact(name: string): FactError {
    let best: [number, string] | null = null;
    for (const f of this.inner.doc.facts) {
      const d = levenshtein(f.name, name);
      if (d <= 2 && (best === null || d < best[0] || (d === best[0] && f.name < best[1]))) best = [d, f.name];
    }
    const hint = best === null ? "" : `; did you mean \`${best[1]}\`?`;
    return bad("unknown_fact", name, `unknown fact \`${shorten(name)}\`: policy \`${this.inner.doc.policy.id}\` has no such fact${hint}`);
  }

  private name(index: number): string {
    return this.inner.doc.facts[index].name;
  }

  /** Binds a fact's value (not a list of codes being read). */
  private bindValue(index: number, v: SValue): void {
    const schema = this.inner.doc.facts[index];
    const name = schema.name;
    if (v === null) {
      this.put(index, undefined);
      return;
    }
    if (schema.type === "codes") {
      if (!Array.isArray(v)) throw wrongValue(name, "a list of codes", v);
      this.scratch = [];
      v.forEach((item, i) => {
        if (typeof item !== "string") {
          throw bad("wrong_type", name, `fact \`${name}\` is a list of codes; its item ${i + 1} is \`${shorten(render(item))}\`, not a code`);
        }
        const c = this.code(index, item);
        if (c >= 0) this.scratch.push(c);
      });
      this.countClasses(index);
      return;
    }
    if (schema.type === "list") {
      this.put(index, this.list(schema, v));
      return;
    }
    let slot = this.scalar(schema, this.inner.kinds[index], v);
    if (typeof slot === "object" && slot !== null && !Array.isArray(slot)) slot = this.within(index, slot as Num);
    this.put(index, slot);
  }

  /** The value of a fact (or a field) of one value. */
  private scalar(schema: FactSchema, kind: FactKind, v: SValue): Slot {
    const name = schema.name;
    switch (schema.type) {
      case "bool":
        if (typeof v !== "boolean") throw wrongValue(name, "`true` or `false`", v);
        return v;
      case "int":
      case "decimal": {
        const n = numberOf(v);
        if (n === null) throw wrongValue(name, "a number", v);
        if (n === "too-large") {
          throw bad("out_of_range", name, `fact \`${name}\`: \`${shorten(render(v))}\` has more than ${MAX_DIGITS} digits, more than a number of facts can hold`);
        }
        if (schema.type === "int" && !isInteger(n)) throw wrongValue(name, "a whole number", v);
        return n;
      }
      case "duration":
      case "percent":
      case "quantity":
        return quantity(name, v, unitOf(kind));
      case "enum":
        if (typeof v !== "string") throw wrongValue(name, "one of its values", v);
        return enumValue(schema, v);
      case "code":
        if (typeof v !== "string") throw wrongValue(name, "one code", v);
        return this.codeIn(name, kind.system, v);
      case "date":
        if (typeof v !== "string") throw wrongValue(name, "a date such as `2009-02-12`", v);
        return dateValue(name, v);
      case "codes":
        throw wrongValue(name, "a list of codes", v);
      case "list":
        throw wrongValue(name, "a list of items", v);
    }
  }

  /** A list: an array of objects, each with (some of) the record's fields. */
  private list(schema: FactSchema, v: SValue): Slot[][] {
    const name = schema.name;
    const record = schema.record === undefined ? undefined : this.inner.doc.records[schema.record];
    if (record === undefined) throw bad("wrong_type", name, `fact \`${name}\` has no record`);
    if (!Array.isArray(v)) throw wrongValue(name, "a list of items", v);
    const kinds = this.recordKinds(schema.record as number);
    return v.map((item, i) => {
      const at = i + 1;
      if (!(item instanceof Map)) {
        throw bad("wrong_type", name, `fact \`${name}\`: item ${at} is \`${shorten(render(item))}\`, not an object of the fields of \`${record.name}\``);
      }
      const slots: Slot[] = new Array<Slot>(record.fields.length).fill(undefined);
      for (const [key, value] of item) {
        const f = record.fields.findIndex((x) => x.name === key);
        if (f < 0) {
          const names = record.fields.map((x) => `\`${x.name}\``).join(", ");
          throw bad("unknown_field", name, `fact \`${name}\`: item ${at} has \`${shorten(key)}\`, which is not a field of \`${record.name}\`; its fields are ${names}`);
        }
        if (value === null) continue;
        const field = record.fields[f];
        try {
          slots[f] = this.scalar(field, kinds[f], value);
        } catch (e) {
          if (!(e instanceof FactError)) throw e;
          const message = e.message.replace(`fact \`${field.name}\``, `field \`${field.name}\``);
          throw bad(e.kind, name, `fact \`${name}\`, item ${at}: ${message}`);
        }
      }
      return slots;
    });
  }

  private readonly recordKindCache = new Map<number, FactKind[]>();

  private recordKinds(record: number): FactKind[] {
    let kinds = this.recordKindCache.get(record);
    if (kinds === undefined) {
      kinds = this.inner.doc.records[record].fields.map((f) => ({
        type: f.type,
        unit: f.type === "percent" ? PERCENT : (f.unit === undefined ? null : parseUnit(f.unit)) ?? (parseUnit("days") as Unit),
        system: f.system === undefined ? null : parseSystem(f.system),
        range: null,
      }));
      this.recordKindCache.set(record, kinds);
    }
    return kinds;
  }

  /** A number checked against its fact's declared range. */
  private within(index: number, n: Num): Num {
    const kind = this.inner.kinds[index];
    if (kind.range === null) return n;
    const [low, high] = kind.range;
    if (cmp(low, n) <= 0 && cmp(n, high) <= 0) return n;
    const name = this.name(index);
    const unit = kind.type === "percent" ? "%" : kind.type === "duration" || kind.type === "quantity" ? ` ${kind.unit.name}` : "";
    throw bad("out_of_range", name, `fact \`${name}\` is declared from ${show(low)}${unit} to ${show(high)}${unit}, not ${show(n)}${unit}`);
  }

  private code(index: number, text: string): number {
    return this.codeIn(this.name(index), this.inner.kinds[index].system, text);
  }

  /** A code checked for its system's format: its index among the codes of the artifact's sets, or -1. */
  private codeIn(name: string, system: System | null, text: string): number {
    if (system === null) throw bad("wrong_type", name, `fact \`${name}\` has no code system`);
    const direct = this.inner.codes.get(system, text);
    if (direct !== undefined) return direct;
    const form = parseCode(system, text);
    if ("prefix" in form) throw bad("bad_code", name, `fact \`${name}\`: \`${shorten(text)}\` is a pattern; a patient has whole codes`);
    if ("error" in form) {
      throw bad("bad_code", name, `fact \`${name}\`: \`${shorten(text)}\` is not a valid ${displaySystem(system)} code: ${form.error}`);
    }
    return this.inner.codes.get(system, form.exact) ?? -1;
  }

  /** Binds a set of codes from the code indices in `scratch`: how many distinct codes lie in each class of the fact. */
  private countClasses(index: number): void {
    const codes = [...new Set(this.scratch)];
    const classes = this.inner.classes;
    for (let c = 0; c < classes.length; c++) if (classes[c].fact === index) this.classCounts[c] = 0;
    for (const code of codes) {
      for (const c of this.inner.codes.classes(code)) if (classes[c].fact === index) this.classCounts[c]++;
    }
    this.put(index, CODES);
  }

  private put(index: number, slot: Slot): void {
    this.slots[index] = slot;
  }

  /** Computes the derived values from the facts set (in schema order), remembering the first a read fact leaves without a value. */
  private derive(): void {
    this.undefinedValue = null;
    for (const [index, formula] of this.inner.derived) {
      const value = formulaValue(formula, (f) => {
        const s = this.slots[f];
        return typeof s === "object" && s !== null && !Array.isArray(s) ? (s as Num) : null;
      });
      if (typeof value === "string") {
        const schema = this.inner.doc.facts[index];
        if (schema.read && this.undefinedValue === null) {
          this.undefinedValue = bad("derived", schema.name, `the derived value \`${schema.name}\` ${value} for these facts`);
        }
        this.slots[index] = undefined;
      } else {
        this.slots[index] = value ?? undefined;
      }
    }
  }

  /** Computes the derived values and throws the error of one the facts leave without a value. */
  private settle(): void {
    if (this.inner.derived.length === 0) return;
    this.derive();
    if (this.undefinedValue !== null) throw this.undefinedValue;
  }

  /** Sets one fact from a JSON value, checked as a read checks it. */
  private set(name: string, v: SValue): void {
    const index = this.inner.byName.get(name);
    if (index === undefined) throw this.unknownFact(name);
    this.bindValue(index, v);
    this.settle();
  }

  setBool(name: string, value: boolean): void {
    this.set(name, value);
  }

  /** Sets an int or decimal: a decimal string keeps every digit (`"2.95"`); a bigint is whole. */
  setNumber(name: string, value: string | bigint): void {
    this.set(name, typeof value === "bigint" ? new SNum({ whole: value }, value.toString()) : value);
  }

  /** Sets a duration, percentage or measurement: an exact amount (`"8"`, `"1/3"`) in a unit (`weeks`, `%`, `[lb_av]`). */
  setQuantity(name: string, amount: string, unit: string): void {
    const index = this.inner.byName.get(name);
    if (index === undefined) throw this.unknownFact(name);
    const kind = this.inner.kinds[index];
    if (kind.type !== "duration" && kind.type !== "percent" && kind.type !== "quantity") {
      throw bad("wrong_type", name, `fact \`${name}\` is not an amount with a unit`);
    }
    this.put(index, this.within(index, quantityParts(name, amount, unit, kind.unit)));
    this.settle();
  }

  setDate(name: string, date: string): void {
    this.set(name, date);
  }

  setEnum(name: string, value: string): void {
    this.set(name, value);
  }

  setCode(name: string, code: string): void {
    this.set(name, code);
  }

  setCodes(name: string, codes: string[]): void {
    this.set(name, [...codes]);
  }

  /** Sets a list fact from its items, each an object of fields written as JSON facts are. */
  setList(name: string, itemsJson: string): void {
    const r = new Reader(itemsJson);
    let v: JValue;
    try {
      v = r.value();
      r.end();
    } catch (e) {
      if (e instanceof JsonError) throw notJson(itemsJson, e);
      throw e;
    }
    let items: SValue;
    try {
      items = toSValue(v);
    } catch (e) {
      if (!(e instanceof OutOfRange)) throw e;
      throw bad("out_of_range", name, `fact \`${name}\`: a number is out of range`);
    }
    this.set(name, items);
  }

  /** Makes a fact unknown again. */
  unset(name: string): void {
    this.set(name, null);
  }
}

/** A JSON value as plain JavaScript, for carried values. */
function plain(v: SValue): unknown {
  if (v instanceof SNum) return "whole" in v.n ? v.text : v.n.float;
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

function notJson(text: string, e: JsonError): FactError {
  const message =
    e.at >= text.trimEnd().length
      ? `the facts are not valid JSON: the text ends early (${e.what})`
      : `the facts are not valid JSON: ${e.what} at ${place(text, e.at)}`;
  return new FactError("syntax", null, message);
}

function givenTwice(text: string, name: string, first: number, second: number): FactError {
  return new FactError("duplicate_key", name, `\`${shorten(name)}\` is given twice, at ${place(text, first)} and at ${place(text, second)}`);
}
