// Every code of an artifact's sets, indexed: binding a patient's code is one map lookup, and
// what a test asks of it is a set membership or a short list of classes.

import type { System } from "./codes.js";

/** A class of codes a `has` test names: the codes in every set of `inside` and in none of `notIn`. */
export interface CodeClass {
  readonly fact: number;
  readonly inside: number[];
  readonly notIn: number[];
  /** How many codes the class has. */
  readonly size: number;
}

export class CodeIndex {
  private readonly bySystem = new Map<System, Map<string, number>>();
  /** For each code, the sets that hold it. */
  private readonly sets: Set<number>[] = [];
  /** For each code, the classes it lies in (of every fact). */
  private readonly classesOf: number[][] = [];

  constructor(sets: string[][], systems: System[], classes: CodeClass[]) {
    sets.forEach((codes, s) => {
      let map = this.bySystem.get(systems[s]);
      if (map === undefined) {
        map = new Map();
        this.bySystem.set(systems[s], map);
      }
      for (const code of codes) {
        let at = map.get(code);
        if (at === undefined) {
          at = this.sets.length;
          map.set(code, at);
          this.sets.push(new Set());
          this.classesOf.push([]);
        }
        this.sets[at].add(s);
      }
    });
    classes.forEach((c, i) => {
      const first = sets[c.inside[0]];
      const map = this.bySystem.get(systems[c.inside[0]]);
      for (const code of first ?? []) {
        const at = map?.get(code);
        if (at === undefined) continue;
        if (c.inside.every((s) => this.sets[at].has(s)) && !c.notIn.some((s) => this.sets[at].has(s))) {
          this.classesOf[at].push(i);
        }
      }
    });
  }

  /** The index of a code of the artifact's sets, in normal form. */
  get(system: System, code: string): number | undefined {
    return this.bySystem.get(system)?.get(code);
  }

  inSet(code: number, set: number): boolean {
    return this.sets[code]?.has(set) ?? false;
  }

  classes(code: number): number[] {
    return this.classesOf[code] ?? [];
  }
}
