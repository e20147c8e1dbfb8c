// Exact numbers: reduced fractions of BigInts.
//
// medpol keeps numbers as fractions of two 128-bit integers and checks every operation for
// overflow; a conversion or formula that overflows is an error there. The checked operations
// below take the same intermediate steps as medpol's (those of the `num-rational` crate) and
// refuse a result whenever one of them leaves the 128-bit range, so that the same facts are
// refused here too.

/** An exact rational number: `n / d` in lowest terms, `d > 0`. */
export interface Num {
  readonly n: bigint;
  readonly d: bigint;
}

const I128_MAX = (1n << 127n) - 1n;
const I128_MIN = -(1n << 127n);

/** At most this many significant digits, and this many decimal places, in a literal. */
export const MAX_DIGITS = 30;

function fits(x: bigint): boolean {
  return x >= I128_MIN && x <= I128_MAX;
}

function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}

function gcd(a: bigint, b: bigint): bigint {
  a = abs(a);
  b = abs(b);
  while (b !== 0n) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

export const ZERO: Num = { n: 0n, d: 1n };
export const ONE: Num = { n: 1n, d: 1n };

export function int(n: bigint | number): Num {
  return { n: BigInt(n), d: 1n };
}

/** `n / d` reduced; `d` must not be zero. */
export function ratio(n: bigint, d: bigint): Num {
  if (d === 1n) return { n, d };
  const g = gcd(n, d);
  let nn = g === 0n ? n : n / g;
  let dd = g === 0n ? d : d / g;
  if (dd < 0n) {
    nn = -nn;
    dd = -dd;
  }
  return { n: nn, d: dd };
}

export function isInteger(a: Num): boolean {
  return a.d === 1n;
}

export function cmp(a: Num, b: Num): number {
  if (a.d === b.d) return a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
  const l = a.n * b.d;
  const r = b.n * a.d;
  return l < r ? -1 : l > r ? 1 : 0;
}

export function eq(a: Num, b: Num): boolean {
  return a.n === b.n && a.d === b.d;
}

export function neg(a: Num): Num {
  return { n: -a.n, d: a.d };
}

/** The product, or `null` when a step leaves the 128-bit range. */
export function mul(a: Num, b: Num): Num | null {
  const gad = gcd(a.n, b.d);
  const gbc = gcd(a.d, b.n);
  const n = (a.n / gad) * (b.n / gbc);
  const d = (a.d / gbc) * (b.d / gad);
  if (!fits(n) || !fits(d)) return null;
  return ratio(n, d);
}

function addSub(a: Num, b: Num, sub: boolean): Num | null {
  const g = gcd(a.d, b.d);
  const lcm = (a.d / g) * b.d;
  if (!fits(lcm)) return null;
  const l = (lcm / a.d) * a.n;
  const r = (lcm / b.d) * b.n;
  if (!fits(l) || !fits(r)) return null;
  const n = sub ? l - r : l + r;
  if (!fits(n)) return null;
  return ratio(n, lcm);
}

export function add(a: Num, b: Num): Num | null {
  return addSub(a, b, false);
}

export function sub(a: Num, b: Num): Num | null {
  return addSub(a, b, true);
}

/** The quotient, or `null` for a zero divisor or when a step leaves the 128-bit range. */
export function div(a: Num, b: Num): Num | null {
  if (b.n === 0n) return null;
  let n: bigint;
  let d: bigint;
  if (a.d === b.d) {
    n = a.n;
    d = b.n;
  } else if (a.n === b.n) {
    n = b.d;
    d = a.d;
  } else {
    const gac = gcd(a.n, b.n);
    const gbd = gcd(a.d, b.d);
    n = (a.n / gac) * (b.d / gbd);
    d = (a.d / gbd) * (b.n / gac);
    if (!fits(n) || !fits(d)) return null;
  }
  if (d === 0n) return null;
  return ratio(n, d);
}

function floorDiv(n: bigint, d: bigint): bigint {
  const q = n / d;
  return n % d !== 0n && n < 0n !== d < 0n ? q - 1n : q;
}

export function floor(a: Num): Num {
  return int(floorDiv(a.n, a.d));
}

export function ceil(a: Num): Num {
  return int(-floorDiv(-a.n, a.d));
}

/**
 * Reads a decimal literal (`-2.95`, `42`): an optional `-`, digits, and optionally `.` and
 * digits; at most 30 significant digits and 30 decimal places. `null` when it is not one.
 */
export function parseDecimal(text: string): Num | null {
  let body = text;
  let negative = false;
  if (body.startsWith("-")) {
    negative = true;
    body = body.slice(1);
  }
  const dot = body.indexOf(".");
  const whole = dot < 0 ? body : body.slice(0, dot);
  const frac = dot < 0 ? "" : body.slice(dot + 1);
  if (whole.length === 0 || !allDigits(whole) || !allDigits(frac) || (dot >= 0 && frac.length === 0)) {
    return null;
  }
  let leading = 0;
  while (leading < whole.length && whole.charCodeAt(leading) === 48) leading++;
  if (leading === whole.length) {
    let z = 0;
    while (z < frac.length && frac.charCodeAt(z) === 48) z++;
    leading += z;
  }
  const significant = whole.length + frac.length - leading;
  if (significant > MAX_DIGITS || frac.length > MAX_DIGITS) return null;
  let n = BigInt(whole + frac);
  if (negative) n = -n;
  return ratio(n, 10n ** BigInt(frac.length));
}

function allDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Reads a number as an artifact writes it: a decimal (`78.5`) or a fraction (`1/30`). */
export function parseNum(text: string): Num | null {
  const slash = text.indexOf("/");
  if (slash < 0) return parseDecimal(text);
  const n = parseDecimal(text.slice(0, slash));
  const d = parseDecimal(text.slice(slash + 1));
  if (n === null || d === null || d.n === 0n) return null;
  return div(n, d);
}

/** The exact decimal form when there is one (`78.5`), else a fraction (`1/30`). */
export function show(a: Num): string {
  let d = a.d;
  let twos = 0;
  let fives = 0;
  while (d % 2n === 0n) {
    d /= 2n;
    twos++;
  }
  while (d % 5n === 0n) {
    d /= 5n;
    fives++;
  }
  if (d !== 1n) return `${a.n}/${a.d}`;
  const places = Math.max(twos, fives);
  if (places === 0) return a.n.toString();
  const scaled = a.n * (10n ** BigInt(places) / a.d);
  const sign = scaled < 0n ? "-" : "";
  const digits = abs(scaled).toString().padStart(places + 1, "0");
  const frac = digits.slice(digits.length - places).replace(/0+$/, "");
  return `${sign}${digits.slice(0, digits.length - places)}.${frac}`;
}

// ------------------------------------------------------------------ classes of values

/** The kinds of number a fact holds, as far as its classes of values go. */
export type NumberKind = "int" | "decimal" | "duration" | "percent" | "amount" | "count";

/**
 * A value inside each class of a number line cut at `thresholds` (as medpol's analysis cuts
 * it): below the first cut, each cut, between two cuts, above the last; within the kind's
 * bounds and the declared range; classes with no value of the kind (no whole number between
 * 5 and 6) are left out.
 */
export function classSamples(kind: NumberKind, range: [Num, Num] | null, thresholds: Num[]): Num[] {
  const integer = kind === "int" || kind === "count";
  let low: Num | null = null;
  let high: Num | null = null;
  if (kind === "percent") {
    low = ZERO;
    high = int(100);
  } else if (kind === "duration" || kind === "amount" || kind === "count") {
    low = ZERO;
  }
  if (range !== null) {
    low = low === null ? range[0] : cmp(low, range[0]) >= 0 ? low : range[0];
    high = high === null ? range[1] : cmp(high, range[1]) <= 0 ? high : range[1];
  }
  const cuts: Num[] = thresholds.filter(
    (v) => (low === null || cmp(v, low) >= 0) && (high === null || cmp(v, high) <= 0),
  );
  if (low !== null) cuts.push(low);
  if (high !== null) cuts.push(high);
  cuts.sort(cmp);
  const unique: Num[] = [];
  for (const c of cuts) {
    if (unique.length === 0 || !eq(unique[unique.length - 1], c)) unique.push(c);
  }
  const samples: Num[] = [];
  const push = (s: Num | null) => {
    if (s !== null) samples.push(s);
  };
  if (low === null) push(sample(null, unique.length > 0 ? unique[0] : null, integer));
  unique.forEach((c, i) => {
    push(!integer || isInteger(c) ? c : null);
    const next = i + 1 < unique.length ? unique[i + 1] : null;
    if (next !== null || high === null) push(sample(c, next, integer));
  });
  return samples;
}

/** A value strictly between `a` and `b` (`null`: unbounded), or `null` when there is none. */
function sample(a: Num | null, b: Num | null, integer: boolean): Num | null {
  if (a === null && b === null) return ZERO;
  if (b === null) return crossAdd(floor(a as Num), ONE);
  if (a === null) return crossAdd(ceil(b), neg(ONE));
  const sum = crossAdd(a, b);
  const mid = sum === null ? null : div(sum, int(2));
  if (mid === null) return null;
  const down = floor(mid);
  if (cmp(down, a) > 0 && cmp(down, b) < 0) return down;
  const up = ceil(mid);
  if (cmp(up, a) > 0 && cmp(up, b) < 0) return up;
  return integer ? null : mid;
}

/** `a + b` over the product of the denominators, as medpol's class sampling adds. */
function crossAdd(a: Num, b: Num): Num | null {
  const l = a.n * b.d;
  const r = b.n * a.d;
  const d = a.d * b.d;
  if (!fits(l) || !fits(r) || !fits(l + r) || !fits(d)) return null;
  return ratio(l + r, d);
}
