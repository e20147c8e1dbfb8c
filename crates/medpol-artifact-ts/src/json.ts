// A JSON reader that keeps what `JSON.parse` loses: the text of each number, every key of an
// object in order (a key given twice is seen), and the place of each fault. It accepts exactly
// RFC 8259 JSON, lists and objects nested at most 128 deep.

import { type Num, parseDecimal } from "./num.js";

/** A JSON number, as written. */
export class JNumber {
  constructor(readonly text: string) {}
}

/** A JSON object: its keys and values in the order written, repeated keys included. */
export class JObject {
  constructor(readonly entries: [string, JValue][]) {}
}

export type JValue = null | boolean | string | JNumber | JValue[] | JObject;

/** Where the text is not JSON (an offset in UTF-16 code units), and what was expected. */
export class JsonError extends Error {
  constructor(
    readonly at: number,
    readonly what: string,
  ) {
    super(what);
  }
}

const DEPTH = 128;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

export class Reader {
  at: number;

  /** A reader at the start of `text`, past a byte order mark when `bom` allows one. */
  constructor(
    readonly text: string,
    bom = true,
  ) {
    this.at = bom && text.charCodeAt(0) === 0xfeff ? 1 : 0;
  }

  fail(what: string): never {
    throw new JsonError(this.at, what);
  }

  /** The next character that is not white space (its code), without taking it; -1 at the end. */
  peek(): number {
    const t = this.text;
    while (this.at < t.length && isWs(t.charCodeAt(this.at))) this.at++;
    return this.at < t.length ? t.charCodeAt(this.at) : -1;
  }

  eat(c: number): boolean {
    if (this.peek() === c) {
      this.at++;
      return true;
    }
    return false;
  }

  expect(c: number, what: string): void {
    if (!this.eat(c)) this.fail(what);
  }

  /** After the last value only white space may follow. */
  end(): void {
    if (this.peek() !== -1) this.fail("more text after the end");
  }

  string(): string {
    if (!this.eat(0x22)) this.fail("expected a string in double quotes");
    const t = this.text;
    const start = this.at;
    let i = start;
    while (i < t.length) {
      const c = t.charCodeAt(i);
      if (c === 0x22) {
        this.at = i + 1;
        return t.slice(start, i);
      }
      if (c === 0x5c || c < 0x20) break;
      i++;
    }
    let out = t.slice(start, i);
    this.at = i;
    for (;;) {
      if (this.at >= t.length) this.fail("a string is not closed");
      const c = t.charCodeAt(this.at);
      if (c === 0x22) {
        this.at++;
        return out;
      }
      if (c < 0x20) this.fail("a control character in a string (write it as an escape)");
      if (c !== 0x5c) {
        out += t[this.at];
        this.at++;
        continue;
      }
      if (this.at + 1 >= t.length) {
        this.at++;
        this.fail("a string is not closed");
      }
      const e = t[this.at + 1];
      const simple: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
      if (e === "u") {
        this.at += 2;
        out += this.unicodeEscape();
      } else if (Object.prototype.hasOwnProperty.call(simple, e)) {
        out += simple[e];
        this.at += 2;
      } else {
        this.at++;
        this.fail("an unknown escape in a string");
      }
    }
  }

  private unicodeEscape(): string {
    const first = this.hex4();
    if (first >= 0xdc00 && first <= 0xdfff) this.fail("a lone surrogate in a `\\u` escape");
    if (first < 0xd800 || first > 0xdbff) return String.fromCharCode(first);
    if (this.text.slice(this.at, this.at + 2) !== "\\u") this.fail("a lone surrogate in a `\\u` escape");
    this.at += 2;
    const second = this.hex4();
    if (second < 0xdc00 || second > 0xdfff) this.fail("a lone surrogate in a `\\u` escape");
    return String.fromCharCode(first, second);
  }

  private hex4(): number {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const d = parseInt(this.text.charAt(this.at), 16);
      if (Number.isNaN(d)) this.fail("a `\\u` escape needs four hex digits");
      v = v * 16 + d;
      this.at++;
    }
    return v;
  }

  /** A number's text, checked against the grammar. */
  number(): string {
    this.peek();
    const t = this.text;
    const start = this.at;
    const digits = (): number => {
      const from = this.at;
      while (this.at < t.length && isDigit(t.charCodeAt(this.at))) this.at++;
      return this.at - from;
    };
    if (t.charCodeAt(this.at) === 0x2d) this.at++;
    const c = t.charCodeAt(this.at);
    if (c === 0x30) {
      this.at++;
      if (isDigit(t.charCodeAt(this.at))) this.fail("a number has a leading zero");
    } else if (c >= 0x31 && c <= 0x39) {
      digits();
    } else {
      this.fail("a number is not valid");
    }
    if (t.charCodeAt(this.at) === 0x2e) {
      this.at++;
      if (digits() === 0) this.fail("a number is not valid");
    }
    const e = t.charCodeAt(this.at);
    if (e === 0x65 || e === 0x45) {
      this.at++;
      const s = t.charCodeAt(this.at);
      if (s === 0x2b || s === 0x2d) this.at++;
      if (digits() === 0) this.fail("a number is not valid");
    }
    return t.slice(start, this.at);
  }

  /** `true`, `false` or `null`. */
  literal(): boolean | null {
    this.peek();
    const t = this.text;
    if (t.startsWith("true", this.at)) {
      this.at += 4;
      return true;
    }
    if (t.startsWith("false", this.at)) {
      this.at += 5;
      return false;
    }
    if (t.startsWith("null", this.at)) {
      this.at += 4;
      return null;
    }
    return this.fail("expected a value");
  }

  /** A key of an object and its colon. */
  key(): string {
    if (this.peek() !== 0x22) this.fail("expected a key in double quotes");
    const k = this.string();
    this.expect(0x3a, "expected `:` after a key");
    return k;
  }

  /** Any value, read whole. Nesting is followed with a stack of its own. */
  value(): JValue {
    type Open = { list: JValue[] } | { object: JObject; key: string };
    const open: Open[] = [];
    for (;;) {
      let v: JValue;
      const c = this.peek();
      if (c === 0x7b || c === 0x5b) {
        if (open.length === DEPTH) this.fail("lists and objects nested too deep");
        this.at++;
        if (c === 0x7b) {
          const object = new JObject([]);
          if (this.eat(0x7d)) {
            v = object;
          } else {
            open.push({ object, key: this.key() });
            continue;
          }
        } else {
          const list: JValue[] = [];
          if (this.eat(0x5d)) {
            v = list;
          } else {
            open.push({ list });
            continue;
          }
        }
      } else if (c === 0x22) {
        v = this.string();
      } else if (c === 0x2d || isDigit(c)) {
        v = new JNumber(this.number());
      } else if (c === -1) {
        return this.fail("the text ends where a value was expected");
      } else {
        v = this.literal();
      }
      // After a value: put it in what holds it, then the next item or the close.
      for (;;) {
        const top = open[open.length - 1];
        if (top === undefined) return v;
        if ("list" in top) top.list.push(v);
        else top.object.entries.push([top.key, v]);
        if (this.eat(0x2c)) {
          if (!("list" in top)) top.key = this.key();
          break;
        }
        if ("list" in top) {
          this.expect(0x5d, "expected `,` or `]`");
          v = top.list;
        } else {
          this.expect(0x7d, "expected `,` or `}`");
          v = top.object;
        }
        open.pop();
      }
    }
  }
}

/** The line and column (both from 1, the column in characters) of an offset, for messages. */
export function place(text: string, at: number): string {
  const before = text.slice(0, at);
  const lineStart = before.lastIndexOf("\n") + 1;
  const line = before.split("\n").length;
  const column = 1 + [...before.slice(lineStart)].length;
  return text.trimEnd().includes("\n") ? `line ${line}, column ${column}` : `column ${column}`;
}

// ------------------------------------------------------------------ numbers

/**
 * A JSON number as medpol reads a fact's number: a whole number that fits 64 bits exactly;
 * any other as the 64-bit float nearest to it (correctly rounded, as `Number` reads it).
 * `null` when the float is out of range.
 */
export type SerdeNumber = { whole: bigint } | { float: number };

const I64_MIN = -(1n << 63n);
const U64_MAX = (1n << 64n) - 1n;

export function serdeNumber(text: string): SerdeNumber | null {
  if (/^-?(0|[1-9][0-9]*)$/.test(text) && text !== "-0") {
    const w = BigInt(text);
    if (w >= I64_MIN && w <= U64_MAX) return { whole: w };
  }
  const f = Number(text);
  return Number.isFinite(f) ? { float: f } : null;
}

/**
 * The exact number a fact takes from a JSON number: the whole number; or the float at its
 * shortest decimal form (the fewest digits that read back as the same float), with any
 * exponent written out in plain digits. `"too-large"` when those digits are more than a
 * number of facts holds.
 */
export function serdeNumberValue(n: SerdeNumber): Num | "too-large" {
  const text = "whole" in n ? n.whole.toString() : plainDigits(n.float);
  return parseDecimal(text) ?? "too-large";
}

/** A float's shortest decimal form in plain digits: `1e-7` as `0.0000001`. */
function plainDigits(f: number): string {
  if (f === 0) return "0";
  const [mantissa, exp] = Math.abs(f).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const point = Number(exp) + 1;
  let text: string;
  if (point <= 0) text = `0.${"0".repeat(-point)}${digits}`;
  else if (point >= digits.length) text = digits + "0".repeat(point - digits.length);
  else text = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return (f < 0 ? "-" : "") + text;
}
