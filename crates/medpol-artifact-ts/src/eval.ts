// Preparing a loaded document for evaluation (every index checked, thresholds parsed, enum
// values and sets resolved, each test given its variable and the classes of the variable's
// values), and evaluating a decision for a patient's facts.

import { type CodeClass, CodeIndex } from "./codes_index.js";
import { type System, parseCode, parseSystem } from "./codes.js";
import { dayNumber, fromDays, monthsUntil, parseDate } from "./date.js";
import { type DecisionDoc, type Document, type FactSchema, type LeafDoc, type Loc, LoadError, type Ref, FORMAT, FORMAT_1 } from "./document.js";
import { type Formula, formulaFacts, readFormula } from "./formula.js";
import { type PCond, countItems, outerFacts, prepareCond } from "./lists.js";
import { type Num, type NumberKind, ONE, classSamples, cmp, int, isInteger, mul, parseNum, sub } from "./num.js";
import type { Slot } from "./slots.js";
import { type Unit, PERCENT, exactFactor, parseUnit } from "./units.js";

/** What a node asks of its fact, resolved. */
type Prepared =
  | { k: "is_true" }
  | { k: "ge"; v: Num }
  | { k: "gt"; v: Num }
  | { k: "enum_in"; mask: boolean[] }
  | { k: "code_in"; set: number }
  | { k: "has_any"; cls: number }
  | { k: "has_all"; cls: number; size: number }
  | { k: "difference"; other: number; scale: Num; otherScale: Num; calendar: boolean; strict: boolean; value: Num }
  | { k: "count"; term: number; strict: boolean; value: Num; filter: PCond | null };

/** A child: a node index (0 and up) or a leaf, written `-1 - leaf`. */
type Child = number;

export interface Node {
  readonly fact: number;
  readonly test: Prepared;
  readonly then: Child;
  readonly otherwise: Child;
  /** The variable the test reads: a fact, one class of codes of a set of codes, a difference or a count. */
  var: number;
  /** For each class of values of the variable, whether the test holds. */
  split: boolean[];
}

/** What binding needs of a fact. */
export interface FactKind {
  readonly type: FactSchema["type"];
  /** For a duration, percentage or measurement: the unit it is kept in. */
  readonly unit: Unit;
  readonly system: System | null;
  readonly range: [Num, Num] | null;
}

/** A loaded artifact, prepared: what decisions and facts share. */
export interface Inner {
  readonly doc: Document;
  readonly decisions: Decision[];
  readonly kinds: FactKind[];
  /** The derived values in schema order, each computed from facts before it. */
  readonly derived: [number, Formula][];
  readonly codes: CodeIndex;
  readonly classes: CodeClass[];
  readonly byName: Map<string, number>;
}

/** What the facts hold, as a decision reads them. */
export interface Bound {
  readonly inner: Inner;
  readonly slots: Slot[];
  readonly classCounts: number[];
}

/** One test taken: the node, its fact, and whether the test held. */
export interface Step {
  readonly node: number;
  readonly fact: number;
  readonly holds: boolean;
}

/** A decision's evaluation for a patient. */
export interface Evaluation {
  /** The leaves some completion of the missing facts reaches, ascending. */
  readonly leaves: number[];
  /** The missing facts the result depends on (indices into the facts), ascending. */
  readonly needed: number[];
  /** The tests taken from the root, up to the leaf or the first test of a missing fact. */
  readonly path: Step[];
  /** Past the first missing fact: the facts of the tests the given facts answer on the paths the missing ones leave open, ascending. */
  readonly tested: number[];
}

/** What a decision gives a patient. */
export type Decided =
  /** One rule decides. */
  | { kind: "rule"; outcome: string; rule: string }
  /** Several rules (or a rule and `otherwise`) could decide, depending on missing facts, and all give this outcome. */
  | { kind: "outcome"; outcome: string }
  /** No rule matches; the decision's `otherwise` gives the outcome. */
  | { kind: "otherwise"; outcome: string }
  /** No rule matches and the decision has no `otherwise`. */
  | { kind: "no_rule" }
  /** Under `unique`, several rules match; under `any`, matching rules disagree. */
  | { kind: "conflict"; rules: string[]; outcomes: string[] }
  /** The result depends on facts the patient lacks. */
  | { kind: "pending" };

/** A test taken, with the policy text it comes from. */
export interface ExplainedStep {
  readonly node: number;
  /** The fact tested, by name. */
  readonly fact: string;
  /** Whether the test held. */
  readonly holds: boolean;
  /** The policy's condition there (`source_map.nodes`), with its file by name. */
  readonly source: Loc & { readonly fileName: string | undefined };
  /** Whether the condition in the author's words held, when the text is the test or its opposite. */
  readonly textHolds: boolean | undefined;
}

/** A decision's result with its explanation. */
export interface Explanation {
  readonly decision: string;
  readonly result: Decided;
  /** The leaves some completion of the missing facts reaches, ascending. */
  readonly leaves: number[];
  /** The missing facts that can change the result, by name, in the artifact's order. */
  readonly needed: string[];
  /** The tests taken from the root, up to the leaf or the first test of a missing fact. */
  readonly path: ExplainedStep[];
  /** The facts declared `documentation: true` the result rests on, in the artifact's order. */
  readonly documentation: string[];
}

/** What counts as the same result when facts are missing: an outcome, no rule, or one conflict leaf. */
function leafKey(leaf: LeafDoc, index: number): string {
  if (leaf.kind === "rule" || leaf.kind === "otherwise") return `outcome:${leaf.outcome}`;
  if (leaf.kind === "no_rule") return "no_rule";
  return `conflict:${index}`;
}

function invalid(message: string): LoadError {
  return new LoadError("invalid", message);
}

/** A reduced diagram over classes of variables; children are results (`-1 - r`) or nodes. */
class Diagram {
  readonly nodes: [number, number[]][] = [];
  private readonly made = new Map<string, number>();

  make(v: number, children: number[]): number {
    if (children.every((c) => c === children[0])) return children[0];
    const key = `${v}:${children.join(",")}`;
    const found = this.made.get(key);
    if (found !== undefined) return found;
    this.nodes.push([v, children]);
    this.made.set(key, this.nodes.length - 1);
    return this.nodes.length - 1;
  }

  private reachable(root: number): number[] {
    const seen = new Set<number>();
    const todo = [root];
    while (todo.length > 0) {
      const r = todo.pop() as number;
      if (r < 0 || seen.has(r)) continue;
      seen.add(r);
      todo.push(...this.nodes[r][1]);
    }
    return [...seen];
  }

  results(root: number): number[] {
    const out = new Set<number>();
    if (root < 0) out.add(-1 - root);
    for (const i of this.reachable(root)) for (const c of this.nodes[i][1]) if (c < 0) out.add(-1 - c);
    return [...out].sort((a, b) => a - b);
  }

  vars(root: number): number[] {
    return this.reachable(root).map((i) => this.nodes[i][0]);
  }
}

export class Decision {
  /** @internal */
  constructor(
    readonly inner: Inner,
    readonly index: number,
    readonly doc: DecisionDoc,
    readonly nodes: Node[],
    /** Each variable's fact, and a difference's second fact. */
    private readonly vars: [number, number | null][],
    /** For each variable that is a count, the facts of the patient its condition reads. */
    private readonly varOuter: number[][],
    /** For each derived value, the facts given by patients it is computed from. */
    private readonly inputs: number[][],
    private readonly root: Child,
    private readonly keys: string[],
  ) {}

  get name(): string {
    return this.doc.name;
  }

  /** Whether a node's test holds; `null` when a fact it needs is missing. */
  holds(node: Node, facts: Bound): boolean | null {
    const slot = facts.slots[node.fact];
    if (slot === undefined) return null;
    const t = node.test;
    switch (t.k) {
      case "is_true":
        return slot as boolean;
      case "ge":
        return cmp(slot as Num, t.v) >= 0;
      case "gt":
        return cmp(slot as Num, t.v) > 0;
      case "enum_in":
        return t.mask[slot as number] === true;
      case "code_in":
        return (slot as number) >= 0 && facts.inner.codes.inSet(slot as number, t.set);
      case "has_any":
        return facts.classCounts[t.cls] > 0;
      case "has_all":
        return facts.classCounts[t.cls] >= t.size;
      case "difference": {
        const w = facts.slots[t.other];
        if (w === undefined) return null;
        let d: Num | null;
        if (t.calendar) {
          const later = fromDays(Number((slot as Num).n));
          const earlier = fromDays(Number((w as Num).n));
          if (later === null || earlier === null) return null;
          d = int(monthsUntil(earlier, later));
        } else {
          const a = mul(slot as Num, t.scale);
          const b = mul(w as Num, t.otherScale);
          d = a === null || b === null ? null : sub(a, b);
        }
        if (d === null) return null;
        return t.strict ? cmp(d, t.value) > 0 : cmp(d, t.value) >= 0;
      }
      case "count": {
        const n = countItems(slot as Slot[][], t.filter, facts.slots, facts.inner.codes);
        if (n === null) return null;
        return t.strict ? cmp(int(n), t.value) > 0 : cmp(int(n), t.value) >= 0;
      }
    }
  }

  /** The leaf the facts lead to when no missing fact lies on the way, else `null`. */
  decideLeaf(facts: Bound): number | null {
    if (facts.inner !== this.inner) return null;
    let at = this.root;
    while (at >= 0) {
      const node = this.nodes[at];
      const h = this.holds(node, facts);
      if (h === null) return null;
      at = h ? node.then : node.otherwise;
    }
    return -1 - at;
  }

  /**
   * The leaf with the path of tests taken, or, when the result depends on missing facts, the
   * leaves they leave open and the missing facts that can change the result.
   */
  evaluate(facts: Bound): Evaluation {
    const own = facts.inner === this.inner;
    const known = (node: Node) => (own ? this.holds(node, facts) : null);
    const path: Step[] = [];
    let at = this.root;
    while (at >= 0) {
      const node = this.nodes[at];
      const h = known(node);
      if (h === null) return this.explore(at, own ? facts.slots : null, known, path);
      path.push({ node: at, fact: node.fact, holds: h });
      at = h ? node.then : node.otherwise;
    }
    return { leaves: [-1 - at], needed: [], path, tested: [] };
  }

  /**
   * Every leaf reachable from `start`, splitting each missing variable over its classes: a
   * reduced, ordered diagram over the missing variables whose results are leaves. Merged by
   * result and reduced again, the variables it still tests are those whose value can change
   * the result.
   */
  private explore(start: number, slots: Slot[] | null, known: (n: Node) => boolean | null, path: Step[]): Evaluation {
    const byLeaf = new Diagram();
    const done = new Map<Child, number>();
    const tested: number[] = [];
    const stack: [Child, boolean][] = [[start, false]];
    while (stack.length > 0) {
      const [at, expanded] = stack.pop() as [Child, boolean];
      if (done.has(at)) continue;
      if (at < 0) {
        done.set(at, at);
        continue;
      }
      const node = this.nodes[at];
      const h = known(node);
      const targets = h === true ? [node.then] : h === false ? [node.otherwise] : node.split.map((_, c) => this.chainEnd(node, c));
      if (!expanded) {
        stack.push([at, true]);
        for (const t of targets) stack.push([t, false]);
        continue;
      }
      const children = targets.map((t) => done.get(t) as number);
      if (h !== null) {
        tested.push(node.fact);
        done.set(at, children[0]);
      } else {
        done.set(at, byLeaf.make(node.var, children));
      }
    }
    const root = done.get(start) as number;
    const leaves = byLeaf.results(root);
    // The same diagram with each leaf replaced by its result.
    const keys: string[] = [];
    const keyOf = (leaf: number) => {
      const key = this.keys[leaf];
      let id = keys.indexOf(key);
      if (id < 0) {
        keys.push(key);
        id = keys.length - 1;
      }
      return -1 - id;
    };
    const byResult = new Diagram();
    const mapped: number[] = [];
    const map = (r: number) => (r < 0 ? keyOf(-1 - r) : mapped[r]);
    for (const [v, children] of byLeaf.nodes) mapped.push(byResult.make(v, children.map(map)));
    const resultRoot = map(root);
    const needed = new Set<number>();
    for (const v of byResult.vars(resultRoot)) for (const f of this.varNeeds(v, slots)) needed.add(f);
    return {
      leaves,
      needed: [...needed].sort((a, b) => a - b),
      path,
      tested: [...new Set(tested)].sort((a, b) => a - b),
    };
  }

  /**
   * The facts an unknown variable stands for: its fact; for a difference, whichever of its two
   * facts are missing; for a count, the missing facts its condition reads, and its list when
   * that is missing too or nothing else is; a derived value's missing inputs for a derived value.
   */
  private varNeeds(v: number, slots: Slot[] | null): number[] {
    const [fact, other] = this.vars[v];
    const missing = (f: number) => slots === null || slots[f] === undefined;
    const needs = [...this.varOuter[v], ...(other === null ? [] : [other])].filter(missing);
    if (needs.length === 0 || missing(fact)) {
      const raw = this.inputs[fact];
      if (raw.length > 0) needs.push(...raw.filter(missing));
      else needs.push(fact);
    }
    return needs;
  }

  /** Where the chain of tests of a node's variable leads for one class of its values. */
  private chainEnd(node: Node, cls: number): Child {
    let at = node;
    for (;;) {
      const next = at.split[cls] ? at.then : at.otherwise;
      if (next < 0 || this.nodes[next].var !== node.var) return next;
      at = this.nodes[next];
    }
  }

  /**
   * What the decision gives the patient: the rule and outcome, `otherwise`, no rule, a
   * conflict, or pending when missing facts could change it. Allocates nothing unless a fact
   * on the patient's path is missing.
   */
  decide(facts: Bound): Decided {
    const leaf = this.decideLeaf(facts);
    if (leaf !== null) return leafResult(this, leaf);
    return decided(this, this.evaluate(facts));
  }

  /** The result with the path taken, the facts needed and the documentation it rests on. */
  explain(facts: Bound): Explanation {
    const e = this.evaluate(facts);
    const doc = this.inner.doc;
    const names = (indices: number[]) => indices.map((i) => doc.facts[i].name);
    const documented = new Set<number>();
    for (const f of [...e.path.map((s) => s.fact), ...e.tested, ...e.needed]) if (doc.facts[f].documentation) documented.add(f);
    return {
      decision: this.name,
      result: decided(this, e),
      leaves: e.leaves,
      needed: names(e.needed),
      path: e.path.map((s) => {
        const loc = this.doc.source_map.nodes[s.node];
        return {
          node: s.node,
          fact: doc.facts[s.fact].name,
          holds: s.holds,
          source: { ...loc, fileName: doc.files[loc.file] },
          textHolds: loc.agrees === undefined ? undefined : loc.agrees === s.holds,
        };
      }),
      documentation: names([...documented].sort((a, b) => a - b)),
    };
  }

  /** The leaf's document. */
  leaf(index: number): LeafDoc {
    return this.doc.leaves[index];
  }
}

/** What an evaluation gives, as `decide` says it. */
export function decided(decision: Decision, e: Evaluation): Decided {
  if (e.needed.length > 0 || e.leaves.length === 0) return { kind: "pending" };
  if (e.leaves.length === 1) return leafResult(decision, e.leaves[0]);
  // Several leaves with one result: the same outcome by different rules.
  const first = decision.leaf(e.leaves[0]);
  if (first.kind === "rule" || first.kind === "otherwise") return { kind: "outcome", outcome: first.outcome };
  return leafResult(decision, e.leaves[0]);
}

function leafResult(decision: Decision, leaf: number): Decided {
  const l = decision.leaf(leaf);
  switch (l.kind) {
    case "rule":
      return { kind: "rule", outcome: l.outcome, rule: l.rule };
    case "otherwise":
      return { kind: "otherwise", outcome: l.outcome };
    case "no_rule":
      return { kind: "no_rule" };
    case "conflict":
      return { kind: "conflict", rules: [...l.rules], outcomes: [...l.outcomes] };
  }
}

// ------------------------------------------------------------------ preparing

function unitOf(f: FactSchema): Unit | null {
  return f.unit === undefined ? null : parseUnit(f.unit);
}

/** The unit a duration, percentage or measurement fact is kept in. */
function keptIn(f: FactSchema): Unit {
  if (f.type === "percent") return PERCENT;
  return unitOf(f) ?? (parseUnit("days") as Unit);
}

function rangeOf(f: FactSchema): [Num, Num] | null {
  if (f.range === undefined) return null;
  const min = parseNum(f.range.min);
  const max = parseNum(f.range.max);
  return min !== null && max !== null && cmp(min, max) <= 0 ? [min, max] : null;
}

function factKind(f: FactSchema): FactKind {
  return { type: f.type, unit: keptIn(f), system: f.system === undefined ? null : parseSystem(f.system), range: rangeOf(f) };
}

/** Whether a fact's type carries what it needs: a unit, values, a code system. */
function complete(f: FactSchema): boolean {
  const u = unitOf(f);
  switch (f.type) {
    case "duration":
      return u !== null && !u.ucum && u !== PERCENT;
    case "quantity":
      return u !== null && u.ucum;
    case "enum":
      return f.values.length > 0;
    case "code":
    case "codes":
      return f.system !== undefined && parseSystem(f.system) !== null;
    default:
      return true;
  }
}

/** A first-format artifact holds nothing the second format brought. */
function format1Holds(doc: Document): void {
  const refuse = (what: string) => invalid(`${what}, which a \`${FORMAT_1}\` artifact cannot hold`);
  if (doc.records.length > 0) throw refuse("a record of list items");
  for (const f of doc.facts) {
    const brought =
      f.type === "date" ? "a date"
      : f.type === "quantity" ? "a measurement"
      : f.type === "list" ? "a list"
      : f.range !== undefined ? "a declared range"
      : f.documentation ? "a documentation requirement"
      : f.formula !== undefined ? "a derived value"
      : null;
    if (brought !== null) throw refuse(`fact \`${f.name}\`: ${brought}`);
  }
  for (const d of doc.decisions) {
    for (const n of d.nodes) {
      if (n.test.kind === "difference") throw refuse(`decision \`${d.name}\`: a test of a difference of two facts`);
      if (n.test.kind === "count") throw refuse(`decision \`${d.name}\`: a count of a list`);
    }
  }
}

const NUMERIC_TYPES = ["int", "decimal", "duration", "percent", "quantity"];

/** The derived values with their formulas, and for each fact the patient-given facts a derived value is computed from. */
function derivedValues(doc: Document): [[number, Formula][], number[][]] {
  const derived: [number, Formula][] = [];
  const inputs: number[][] = doc.facts.map(() => []);
  const numeric = (t: string) => t === "int" || t === "decimal" || t === "quantity";
  doc.facts.forEach((f, i) => {
    if (f.formula === undefined) return;
    const err = (what: string) => invalid(`fact \`${f.name}\`: its formula ${what}`);
    const formula = readFormula(f.formula);
    if (typeof formula === "string") throw err(`has \`${formula}\`, which is not a number`);
    if (!numeric(f.type)) throw err("gives a number, but the fact is not one");
    const raw = new Set<number>();
    for (const x of formulaFacts(formula)) {
      if (!(x < i && doc.facts[x] !== undefined && numeric(doc.facts[x].type))) {
        throw err("reads a fact that is not a number listed before it");
      }
      if (inputs[x].length > 0) inputs[x].forEach((y) => raw.add(y));
      else raw.add(x);
    }
    inputs[i] = [...raw].sort((a, b) => a - b);
    derived.push([i, formula]);
  });
  return [derived, inputs];
}

/** What each of two facts is counted in for their difference; `null` when they do not fit. */
function differenceScales(a: FactSchema, b: FactSchema, unit: Unit | null): [Num, Num] | null {
  const day = parseUnit("days");
  if (a.type === "date" && b.type === "date" && unit === day) return [ONE, ONE];
  if (unit === null && a.type === b.type && (a.type === "int" || a.type === "decimal" || a.type === "percent")) return [ONE, ONE];
  if (unit !== null && a.type === b.type && (a.type === "duration" || a.type === "quantity")) {
    const ua = unitOf(a);
    const ub = unitOf(b);
    if (ua === null || ub === null) return null;
    const fa = exactFactor(ua, unit);
    const fb = exactFactor(ub, unit);
    return fa === null || fb === null ? null : [fa, fb];
  }
  return null;
}

function threshold(t: Prepared): [boolean, Num] | null {
  switch (t.k) {
    case "ge":
      return [false, t.v];
    case "gt":
      return [true, t.v];
    case "difference":
    case "count":
      return [t.strict, t.value];
    default:
      return null;
  }
}

/** For tests against thresholds of one number line, whether each holds in each class of it. */
function thresholdSplits(kind: NumberKind, range: [Num, Num] | null, tests: Prepared[]): boolean[][] {
  const cuts = tests.map(threshold).filter((x): x is [boolean, Num] => x !== null).map(([, v]) => v);
  const samples = classSamples(kind, range, cuts);
  return tests.map((t) => {
    const th = threshold(t);
    return samples.map((x) => (th === null ? false : th[0] ? cmp(x, th[1]) > 0 : cmp(x, th[1]) >= 0));
  });
}

interface VarKey {
  fact: number;
  cls: number | null;
  other: number | null;
  calendar: boolean;
  term: number | null;
}

function keyOf(n: Node): VarKey {
  const t = n.test;
  return {
    fact: n.fact,
    cls: t.k === "has_any" || t.k === "has_all" ? t.cls : null,
    other: t.k === "difference" ? t.other : null,
    calendar: t.k === "difference" && t.calendar,
    term: t.k === "count" ? t.term : null,
  };
}

function cmpOpt(a: number | null, b: number | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a - b;
}

function cmpKey(a: VarKey, b: VarKey): number {
  return a.fact - b.fact || cmpOpt(a.cls, b.cls) || cmpOpt(a.other, b.other) || Number(a.calendar) - Number(b.calendar) || cmpOpt(a.term, b.term);
}

/**
 * Gives each test its variable and its split over the variable's classes; `null` when the
 * variables are not read in one order on every path (or a path comes back to one).
 */
function split(nodes: Node[], facts: FactSchema[], sets: string[][], classes: CodeClass[]): [[number, number | null][], number[][]] | null {
  const keyed = nodes.map(keyOf);
  const keys = [...keyed].sort(cmpKey).filter((k, i, all) => i === 0 || cmpKey(all[i - 1], k) !== 0);
  keys.forEach((key, keyIndex) => {
    const members = nodes.map((_, i) => i).filter((i) => cmpKey(keyed[i], key) === 0);
    const tests = members.map((i) => nodes[i].test);
    const fact = facts[key.fact];
    let splits: boolean[][];
    if (key.other !== null) {
      const whole = (t: string) => t === "int" || t === "date";
      const o = facts[key.other];
      splits = thresholdSplits(o !== undefined && whole(o.type) && whole(fact.type) ? "int" : "decimal", null, tests);
    } else {
      switch (fact.type) {
        case "bool":
          splits = tests.map(() => [false, true]);
          break;
        case "enum":
          splits = tests.map((t) => (t.k === "enum_in" ? t.mask : []));
          break;
        case "code": {
          const tested = [...new Set(tests.flatMap((t) => (t.k === "code_in" ? [t.set] : [])))].sort((a, b) => a - b);
          const member = (s: number, code: string) => sets[s] !== undefined && binarySearch(sets[s], code);
          const signatures: boolean[][] = [tested.map(() => false)];
          const seen = new Set<string>([signatures[0].join()]);
          for (const s of tested) {
            for (const code of sets[s] ?? []) {
              const sig = tested.map((t) => member(t, code));
              if (!seen.has(sig.join())) {
                seen.add(sig.join());
                signatures.push(sig);
              }
            }
          }
          splits = tests.map((t) => {
            const at = t.k === "code_in" ? tested.indexOf(t.set) : -1;
            return signatures.map((sig) => (at >= 0 ? sig[at] : false));
          });
          break;
        }
        case "codes": {
          const size = key.cls === null ? 0 : classes[key.cls]?.size ?? 0;
          const counts = size === 0 ? [0] : size === 1 ? [0, 1] : [0, 1, size];
          splits = tests.map((t) => counts.map((n) => (t.k === "has_any" ? n > 0 : t.k === "has_all" ? n >= t.size : false)));
          break;
        }
        default: {
          const u = unitOf(fact);
          const kind: NumberKind =
            fact.type === "int" || fact.type === "date" ? "int"
            : fact.type === "list" ? "count"
            : fact.type === "duration" ? "duration"
            : fact.type === "percent" ? "percent"
            : fact.type === "quantity" && u !== null && u.nonnegative ? "amount"
            : "decimal";
          splits = thresholdSplits(kind, rangeOf(fact), tests);
        }
      }
    }
    members.forEach((i, j) => {
      nodes[i].var = keyIndex;
      nodes[i].split = splits[j];
    });
  });
  // The variables in one order on every path: the graph of "read right after" between
  // different variables has no cycle (Kahn's algorithm removes every variable).
  const after: number[][] = keys.map(() => []);
  const before: number[] = keys.map(() => 0);
  for (const n of nodes) {
    for (const child of [n.then, n.otherwise]) {
      if (child < 0) continue;
      const c = nodes[child];
      if (c.var !== n.var && !after[n.var].includes(c.var)) {
        after[n.var].push(c.var);
        before[c.var]++;
      }
    }
  }
  const free = keys.map((_, v) => v).filter((v) => before[v] === 0);
  let removed = 0;
  while (free.length > 0) {
    const v = free.pop() as number;
    removed++;
    for (const w of after[v]) {
      before[w]--;
      if (before[w] === 0) free.push(w);
    }
  }
  const outer: number[][] = keys.map(() => []);
  for (const n of nodes) {
    if (n.test.k === "count" && n.test.filter !== null) outerFacts(n.test.filter, outer[n.var]);
  }
  return removed === keys.length ? [keys.map((k) => [k.fact, k.other]), outer] : null;
}

function binarySearch(sorted: string[], x: string): boolean {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] === x) return true;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

function classIndex(classes: CodeClass[], sets: string[][], fact: number, inside: number[], notIn: number[]): number {
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  const found = classes.findIndex((c) => c.fact === fact && same(c.inside, inside) && same(c.notIn, notIn));
  if (found >= 0) return found;
  const member = (s: number, code: string) => sets[s] !== undefined && binarySearch(sets[s], code);
  const first = sets[inside[0]] ?? [];
  const size = first.filter((c) => inside.every((s) => member(s, c)) && !notIn.some((s) => member(s, c))).length;
  classes.push({ fact, inside: [...inside], notIn: [...notIn], size });
  return classes.length - 1;
}

/** Checks every index and value of a document and prepares it for evaluation. */
export function prepare(doc: Document): Inner {
  if (doc.format !== FORMAT && doc.format !== FORMAT_1) throw invalid(`not a \`${FORMAT}\` artifact`);
  if (doc.format === FORMAT_1) format1Holds(doc);
  for (const f of doc.facts) {
    const ok =
      f.type === "list"
        ? f.record !== undefined && doc.records[f.record] !== undefined && doc.records[f.record].fields.every((x) => complete(x) && x.type !== "codes" && x.type !== "list")
        : complete(f);
    if (!ok) throw invalid(`fact \`${f.name}\`: its type lacks its unit, values or code system`);
    if (f.range !== undefined && (!NUMERIC_TYPES.includes(f.type) || rangeOf(f) === null)) {
      throw invalid(`fact \`${f.name}\`: its range is not two numbers in order, or it is not a number`);
    }
  }
  const sets: string[][] = [];
  const systems: System[] = [];
  for (const s of doc.code_sets) {
    const system = parseSystem(s.system);
    if (system === null) throw invalid(`unknown code system \`${s.system}\``);
    // A patient's code is looked up as written once in normal form, so every code of a set must be in it.
    const bad = s.codes.find((c) => {
      const form = parseCode(system, c);
      return !("exact" in form) || form.exact !== c;
    });
    if (bad !== undefined) throw invalid(`code set \`${s.name ?? s.source.text}\`: \`${bad}\` is not in the normal form of its codes`);
    // Codes in normal form are ASCII, so the default order is medpol's byte order.
    sets.push([...new Set(s.codes)].sort());
    systems.push(system);
  }
  const [derived, inputs] = derivedValues(doc);
  const classes: CodeClass[] = [];
  const decisions: Decision[] = [];
  const pending: [DecisionDoc, Node[], [number, number | null][], number[][], Child, string[]][] = [];
  doc.decisions.forEach((d) => {
    const err = (what: string) => invalid(`decision \`${d.name}\`: ${what}`);
    const reference = (r: Ref, from: number | null): Child => {
      if ("leaf" in r && r.leaf < d.leaves.length) return -1 - r.leaf;
      if ("node" in r && r.node < d.nodes.length && (from === null || r.node > from)) return r.node;
      throw err(`reference ${JSON.stringify(r)} is out of range or points backwards`);
    };
    if (d.source_map.nodes.length !== d.nodes.length || d.source_map.leaves.length !== d.leaves.length) {
      throw err("its source map does not match its nodes and leaves");
    }
    const terms: [number, string][] = [];
    const nodes: Node[] = d.nodes.map((n, i) => {
      const fact = doc.facts[n.fact];
      if (fact === undefined) throw err(`node ${i} names fact ${n.fact} of none`);
      const mismatch = () => err(`node ${i} tests fact \`${fact.name}\` wrongly`);
      const t = n.test;
      const strictOf = (op: string) => {
        if (op === ">=") return false;
        if (op === ">") return true;
        throw mismatch();
      };
      let test: Prepared;
      if (t.kind === "is_true" && fact.type === "bool") test = { k: "is_true" };
      else if (t.kind === "compare" && ["int", "decimal", "duration", "percent", "date", "quantity"].includes(fact.type)) {
        let v: Num | null;
        if (fact.type === "date") {
          const date = parseDate(t.value);
          v = date === null ? null : int(dayNumber(date));
        } else v = parseNum(t.value);
        if (v === null) throw mismatch();
        test = strictOf(t.op) ? { k: "gt", v } : { k: "ge", v };
      } else if (t.kind === "difference") {
        const second = doc.facts[t.other];
        if (second === undefined) throw mismatch();
        let unit: Unit | null = null;
        if (t.unit !== undefined) {
          unit = parseUnit(t.unit);
          if (unit === null) throw mismatch();
        }
        const calendar = fact.type === "date" && unit === parseUnit("months");
        const scales = calendar && second.type === "date" ? ([ONE, ONE] as [Num, Num]) : differenceScales(fact, second, unit);
        if (scales === null) throw mismatch();
        const strict = strictOf(t.op);
        const value = parseNum(t.value);
        if (value === null) throw mismatch();
        test = { k: "difference", other: t.other, scale: scales[0], otherScale: scales[1], calendar, strict, value };
      } else if (t.kind === "enum_in" && fact.type === "enum") {
        const mask = fact.values.map(() => false);
        for (const v of t.values) {
          const at = fact.values.indexOf(v);
          if (at < 0) throw mismatch();
          mask[at] = true;
        }
        test = { k: "enum_in", mask };
      } else if (t.kind === "code_in" && fact.type === "code") {
        const s = doc.code_sets[t.set];
        if (s === undefined || s.system !== fact.system) throw mismatch();
        test = { k: "code_in", set: t.set };
      } else if (t.kind === "has" && fact.type === "codes") {
        if (t.in.length === 0 || [...t.in, ...t.not_in].some((s) => doc.code_sets[s] === undefined)) throw mismatch();
        const cls = classIndex(classes, sets, n.fact, t.in, t.not_in);
        test = t.quantifier === "any" ? { k: "has_any", cls } : { k: "has_all", cls, size: classes[cls].size };
      } else if (t.kind === "count" && fact.type === "list") {
        const record = fact.record === undefined ? undefined : doc.records[fact.record];
        if (record === undefined) throw mismatch();
        const v = parseNum(t.value);
        if (v === null || !isInteger(v)) throw mismatch();
        const strict = strictOf(t.op);
        let filter: PCond | null = null;
        if (t.where !== undefined) {
          filter = prepareCond(t.where, record, doc);
          if (filter === null) throw mismatch();
        }
        const key = JSON.stringify(t.where ?? null);
        let term = terms.findIndex(([f, c]) => f === n.fact && c === key);
        if (term < 0) {
          terms.push([n.fact, key]);
          term = terms.length - 1;
        }
        test = { k: "count", term, strict, value: v, filter };
      } else throw mismatch();
      return { fact: n.fact, test, then: reference(n.then, i), otherwise: reference(n.else, i), var: 0, split: [] };
    });
    const splitResult = split(nodes, doc.facts, sets, classes);
    if (splitResult === null) throw err("its tests do not follow one order of facts");
    const root = reference(d.root, null);
    const keys = d.leaves.map((l, i) => {
      const outcomes = l.kind === "rule" || l.kind === "otherwise" ? [l.outcome] : l.kind === "conflict" ? l.outcomes : [];
      for (const o of outcomes) {
        if (!d.outcomes.includes(o)) throw err(`leaf ${i} gives \`${o}\`, which is not one of its outcomes`);
      }
      return leafKey(l, i);
    });
    pending.push([d, nodes, splitResult[0], splitResult[1], root, keys]);
  });
  const byName = new Map<string, number>();
  doc.facts.forEach((f, i) => byName.set(f.name, i));
  if (byName.size !== doc.facts.length) throw invalid("two facts of the input schema have one name");
  const inner: Inner = {
    doc,
    decisions,
    kinds: doc.facts.map(factKind),
    derived,
    codes: new CodeIndex(sets, systems, classes),
    classes,
    byName,
  };
  pending.forEach(([d, nodes, vars, outer, root, keys], index) => {
    decisions.push(new Decision(inner, index, d, nodes, vars, outer, inputs, root, keys));
  });
  return inner;
}

