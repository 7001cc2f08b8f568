// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Weight-decay groups with the semantics of MegEngine basecls `get_param_groups`, and
 * decoupled weight decay (`p <- p * (1 - lr * wd)`, as in AdamW) applied to every
 * group in one step.
 *
 * A policy is a list of `[value, pattern]` rules tried first to last, then a default:
 * a string pattern is a regex searched in the dotted parameter name, a class (or a list
 * of classes and class names such as {@linkcode NORM_TYPES}) matches the layer that
 * owns the parameter, and {@linkcode where} wraps any predicate.
 *
 * @example Grouping a model, and decaying it right before each optimizer update
 * ```ts
 * import {
 *   CpuDecay,
 *   explain,
 *   getParamGroups,
 *   namedParameters,
 *   NORM_TYPES,
 *   Parameter,
 * } from "@decoupled/weight-decay";
 * import assert from "node:assert/strict";
 *
 * class Linear {
 *   weight = new Parameter([0.5, -0.5, 1, 2], [2, 2]);
 *   bias = new Parameter([0.1, 0.2]);
 * }
 * class LayerNorm {
 *   weight = new Parameter([1, 1]);
 *   bias = new Parameter([0, 0]);
 * }
 * const model = { fc: new Linear(), norm: new LayerNorm() };
 * const policy = [[0, "bias"], [0, NORM_TYPES], 1e-2] as const;
 *
 * const groups = getParamGroups(namedParameters(model), policy);
 * assert.deepEqual(groups.map((g) => [g.weightDecay, g.names]), [
 *   [1e-2, ["fc.weight"]],
 *   [0, ["fc.bias", "norm.weight", "norm.bias"]],
 * ]);
 * assert.deepEqual(explain(namedParameters(model), policy).unusedRules, []);
 *
 * const decay = new CpuDecay(groups);
 * decay.step(0.1); // right before the optimizer's own update, as torch.optim.AdamW
 * assert.equal(model.fc.weight.data[0], Math.fround(0.5 * Math.fround(1 - 0.1 * 1e-2)));
 * assert.equal(model.fc.bias.data[0], Math.fround(0.1));
 * ```
 *
 * @module
 */

export { namedParameters, Parameter } from "./src/parameter.ts";
export type {
  NamedParameter,
  NamedParametersOptions,
  ParamSource,
} from "./src/parameter.ts";
export {
  NORM_TYPES,
  ParsedPolicy,
  parsePolicy,
  PolicyError,
  where,
} from "./src/policy.ts";
export type {
  Constructor,
  Decision,
  ParsedRule,
  Pattern,
  PatternKind,
  PolicyErrorOptions,
  Rule,
  WeightDecayPolicy,
  Where,
} from "./src/policy.ts";
export { ParsedScalePolicy, parseGroupPolicy } from "./src/group_policy.ts";
export type { LayerDecay } from "./src/layer_decay.ts";
export type {
  GroupPolicy,
  ParsedGroupPolicy,
  ScaleDecision,
  ScalePolicy,
} from "./src/group_policy.ts";
export { explain, getParamGroups } from "./src/groups.ts";
export type {
  AliasConflict,
  AnyGroupPolicy,
  Assignment,
  DecidedParamGroup,
  Explanation,
  GetParamGroupsOptions,
  GroupLogger,
  ParamGroup,
  UnusedRule,
} from "./src/groups.ts";
export { DECAY_SCALINGS } from "./src/decay_step.ts";
export type {
  DecayOptions,
  DecayScaling,
  DecayStep,
} from "./src/decay_step.ts";
export { CpuDecay } from "./src/cpu_decay.ts";
export { GpuDecay } from "./src/gpu_decay.ts";
export type { GpuDecayOptions } from "./src/gpu_decay.ts";
export type { AdamWOptions, AdamWState, AdamWStateJson } from "./src/adamw.ts";
export { CpuAdamW } from "./src/cpu_adamw.ts";
export { GpuAdamW } from "./src/gpu_adamw.ts";
export type { GpuAdamWOptions } from "./src/gpu_adamw.ts";
export { loadCheckpoint, saveCheckpoint } from "./src/checkpoint.ts";
export type {
  CheckpointEngine,
  LoadCheckpointOptions,
} from "./src/checkpoint.ts";
export {
  readSafetensors,
  SAFETENSORS_DTYPES,
  SafetensorsError,
  writeSafetensors,
} from "./src/safetensors.ts";
export type {
  SafetensorsDtype,
  SafetensorsErrorOptions,
  SafetensorsFile,
  SafetensorsTensor,
  SafetensorsTensorInfo,
  WriteSafetensorsOptions,
} from "./src/safetensors.ts";
export { warmupCosine } from "./src/lr_schedule.ts";
export type {
  LrSchedule,
  LrScheduleConfig,
  WarmupCosineOptions,
} from "./src/lr_schedule.ts";
