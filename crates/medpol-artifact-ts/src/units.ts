// Units: the durations (days and weeks; months and years), `%`, and the measurements by their
// UCUM codes, each with its dimension and exact factor to the dimension's base unit.

import { type Num, ONE, div, int, ratio } from "./num.js";

/** Exponents of mass (g), length (m), plane angle (deg) and pressure (mm[Hg]). */
type Dim = readonly [number, number, number, number];

const MASS: Dim = [1, 0, 0, 0];
const LENGTH: Dim = [0, 1, 0, 0];
const AREA: Dim = [0, 2, 0, 0];
const VOLUME: Dim = [0, 3, 0, 0];
const MASS_PER_AREA: Dim = [1, -2, 0, 0];
const CONCENTRATION: Dim = [1, -3, 0, 0];
const ANGLE: Dim = [0, 0, 1, 0];
const PRESSURE: Dim = [0, 0, 0, 1];

const DIM_NAMES: [Dim, string][] = [
  [MASS, "a mass"],
  [LENGTH, "a length"],
  [AREA, "an area"],
  [VOLUME, "a volume"],
  [MASS_PER_AREA, "a mass per area"],
  [CONCENTRATION, "a mass concentration"],
  [ANGLE, "an angle"],
  [PRESSURE, "a pressure"],
];

/** The unit table: code, dimension, and one of the unit in the dimension's base unit. */
const UCUM: [string, Dim, bigint, bigint][] = [
  ["kg", MASS, 1000n, 1n],
  ["g", MASS, 1n, 1n],
  ["mg", MASS, 1n, 1000n],
  ["ug", MASS, 1n, 1000000n],
  ["ng", MASS, 1n, 1000000000n],
  ["[lb_av]", MASS, 45359237n, 100000n],
  ["[oz_av]", MASS, 28349523125n, 1000000000n],
  ["m", LENGTH, 1n, 1n],
  ["cm", LENGTH, 1n, 100n],
  ["mm", LENGTH, 1n, 1000n],
  ["km", LENGTH, 1000n, 1n],
  ["[in_i]", LENGTH, 254n, 10000n],
  ["[ft_i]", LENGTH, 3048n, 10000n],
  ["m2", AREA, 1n, 1n],
  ["cm2", AREA, 1n, 10000n],
  ["L", VOLUME, 1n, 1000n],
  ["dL", VOLUME, 1n, 10000n],
  ["mL", VOLUME, 1n, 1000000n],
  ["kg/m2", MASS_PER_AREA, 1000n, 1n],
  ["g/m2", MASS_PER_AREA, 1n, 1n],
  ["g/L", CONCENTRATION, 1000n, 1n],
  ["g/dL", CONCENTRATION, 10000n, 1n],
  ["mg/dL", CONCENTRATION, 10n, 1n],
  ["mg/L", CONCENTRATION, 1n, 1n],
  ["ug/mL", CONCENTRATION, 1n, 1n],
  ["ug/L", CONCENTRATION, 1n, 1000n],
  ["ng/mL", CONCENTRATION, 1n, 1000n],
  ["ng/L", CONCENTRATION, 1n, 1000000n],
  ["pg/mL", CONCENTRATION, 1n, 1000000n],
  ["deg", ANGLE, 1n, 1n],
  ["mm[Hg]", PRESSURE, 1n, 1n],
];

/** Common spellings that are not UCUM codes, with the code to write instead. */
const SPELLINGS: Record<string, string> = {
  lb: "[lb_av]",
  lbs: "[lb_av]",
  pound: "[lb_av]",
  pounds: "[lb_av]",
  oz: "[oz_av]",
  in: "[in_i]",
  inch: "[in_i]",
  inches: "[in_i]",
  ft: "[ft_i]",
  feet: "[ft_i]",
  mmHg: "mm[Hg]",
  mmhg: "mm[Hg]",
  degree: "deg",
  degrees: "deg",
  mcg: "ug",
  "µg": "ug",
  "μg": "ug",
  "m²": "m2",
  cc: "mL",
  ml: "mL",
  l: "L",
  dl: "dL",
  "kg/m^2": "kg/m2",
  "kg/m²": "kg/m2",
  "mcg/L": "ug/L",
  "mcg/mL": "ug/mL",
  kilogram: "kg",
  kilograms: "kg",
  gram: "g",
  grams: "g",
  metre: "m",
  meter: "m",
  centimeter: "cm",
  centimeters: "cm",
};

/** The UCUM codes durations have, with the word a duration is written with. */
const DURATION_CODES: Record<string, string> = { d: "days", wk: "weeks", mo: "months", a: "years" };

/** A unit: its name as facts write it, its family, and one of it in the family's base unit. */
export interface Unit {
  readonly name: string;
  /** `days` (days, weeks), `months` (months, years), `percent`, or `ucum:` and the dimension. */
  readonly family: string;
  readonly inBase: Num;
  readonly ucum: boolean;
  /** What it measures, for messages. */
  readonly dimension: string;
  readonly nonnegative: boolean;
}

function duration(name: string, family: string, inBase: bigint): Unit {
  return { name, family, inBase: int(inBase), ucum: false, dimension: "", nonnegative: true };
}

const DAY = duration("days", "days", 1n);
const WEEK = duration("weeks", "days", 7n);
const MONTH = duration("months", "months", 1n);
const YEAR = duration("years", "months", 12n);
export const PERCENT: Unit = { name: "percent", family: "percent", inBase: ONE, ucum: false, dimension: "", nonnegative: true };

const WORDS: Record<string, Unit> = {
  day: DAY,
  days: DAY,
  week: WEEK,
  weeks: WEEK,
  month: MONTH,
  months: MONTH,
  year: YEAR,
  years: YEAR,
  percent: PERCENT,
  "%": PERCENT,
};

const BY_CODE = new Map<string, Unit>(
  UCUM.map(([code, dim, n, d]) => [
    code,
    {
      name: code,
      family: `ucum:${dim.join(",")}`,
      inBase: ratio(n, d),
      ucum: true,
      dimension: DIM_NAMES.find(([x]) => x.join() === dim.join())?.[1] ?? "a quantity",
      nonnegative: dim !== ANGLE,
    },
  ]),
);

/** The unit of a word (`weeks`, `%`) or a UCUM code of the table (case matters: `mL`). */
export function parseUnit(text: string): Unit | null {
  return Object.prototype.hasOwnProperty.call(WORDS, text) ? WORDS[text] : BY_CODE.get(text) ?? null;
}

/** The factor that turns an amount in `from` into one in `to`, when they convert exactly. */
export function exactFactor(from: Unit, to: Unit): Num | null {
  if (from === to) return ONE;
  if (from.family !== to.family) return null;
  return div(from.inBase, to.inBase);
}

/** What a unit measures, for messages: `a duration in weeks`, `a mass in kg`. */
export function describeUnit(u: Unit): string {
  if (u === PERCENT) return "a percentage";
  if (u.ucum) return `${u.dimension} in ${u.name}`;
  return `a duration in ${u.name}`;
}

/** A hint for a unit the table does not have: the word or UCUM code to write. */
export function unitHint(text: string): string {
  if (Object.prototype.hasOwnProperty.call(DURATION_CODES, text)) {
    return `; durations keep their words: write \`${DURATION_CODES[text]}\``;
  }
  let code: string | undefined = Object.prototype.hasOwnProperty.call(SPELLINGS, text) ? SPELLINGS[text] : undefined;
  if (code === undefined) code = UCUM.find(([c]) => c.toLowerCase() === asciiLower(text))?.[0];
  return code === undefined ? "" : `; write the UCUM code \`${code}\``;
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}
