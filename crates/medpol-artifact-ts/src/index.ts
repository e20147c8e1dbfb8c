// @medpol/artifact: load medpol decision artifacts (`medpol.decision/2`) and evaluate patients
// with them, without the compiler and without runtime dependencies.

export { Artifact } from "./artifact.js";
export { FORMAT, FORMAT_1, LoadError } from "./document.js";
export type { LoadErrorKind, Document, FactSchema, DecisionDoc, LeafDoc, Loc } from "./document.js";
export { Decision } from "./eval.js";
export type { Decided, Evaluation, ExplainedStep, Explanation, Step } from "./eval.js";
export { FactError, Facts } from "./facts.js";
export type { FactErrorKind, FactsOptions } from "./facts.js";
export { sha256Hex } from "./sha256.js";
