// What a fact (or a field of a list's item) holds once bound. Each fact's type says how to
// read its slot, so the slot itself carries no tag.

import type { Num } from "./num.js";

/**
 * `undefined`: not known. A bool: `boolean`. An int, decimal, duration, percentage,
 * measurement (in the fact's unit) or date (its day number): a `Num`. An enum: the index of
 * its value. A code: its index among the codes of the artifact's sets, or -1 for a code in
 * none. A set of codes: `CODES` (its classes are counted apart). A list: each item's fields.
 */
export type Slot = undefined | boolean | number | Num | typeof CODES | Slot[][];

export const CODES = "codes";
