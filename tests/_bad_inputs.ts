// Copyright 2026 the weight-decay authors. MIT license.
// The catalogue of bad inputs: each runs against a fresh small model, must throw the
// documented error class with a message that names what was wrong and where, and must
// leave every parameter unchanged. The README's table of errors is generated from it.

import {
  CpuAdamW,
  CpuDecay,
  getParamGroups,
  GpuAdamW,
  GpuDecay,
  namedParameters,
  Parameter,
  type ParamGroup,
  PolicyError,
  where,
} from "../mod.ts";

/** The model every case may touch; its values must be the same after the throw. */
export interface Fixture {
  model: { fc: { weight: Parameter; bias: Parameter }; norm: LayerNorm };
  groups: ParamGroup[];
  device?: GPUDevice;
}

class LayerNorm {
  weight = new Parameter([1, 1]);
  bias = new Parameter([0, 0]);
}

/** A fresh fixture: a linear layer and a norm, grouped by the mobile policy. */
export function fixture(device?: GPUDevice): Fixture {
  const model = {
    fc: {
      weight: new Parameter([0.5, -0.5, 1, 2], [2, 2]),
      bias: new Parameter([0.1, 0.2]),
    },
    norm: new LayerNorm(),
  };
  const groups = getParamGroups(namedParameters(model), [[0, "bias"], [0, [
    "LayerNorm",
  ]], 0.1]);
  return { model, groups, ...(device ? { device } : {}) };
}

/** One bad input. */
export interface BadInput {
  /** What is wrong, as the README's table says it. */
  what: string;
  /** The call that must throw. */
  run: (fixture: Fixture) => unknown;
  /** The error class it must throw. */
  error:
    | typeof PolicyError
    | typeof TypeError
    | typeof RangeError
    | typeof Error;
  /** The message, exactly or by pattern. */
  message: string | RegExp;
  /** Needs a WebGPU device. */
  gpu?: boolean;
}

const groupsOf = (policy: unknown) => (f: Fixture) =>
  getParamGroups(namedParameters(f.model), policy as never);

/** The catalogue. */
export const BAD_INPUTS: readonly BadInput[] = [
  // --- policies -----------------------------------------------------------------
  {
    what: "Policy that is a string",
    run: groupsOf("1e-4"),
    error: PolicyError,
    message:
      'Expected a weight-decay policy (a number, or rules followed by a default number) but found "1e-4"',
  },
  {
    what: "Empty policy list",
    run: groupsOf([]),
    error: PolicyError,
    message:
      "Expected a weight-decay policy to end with a default number but found an empty list",
  },
  {
    what: "Policy without a default",
    run: groupsOf([[0, "bias"]]),
    error: PolicyError,
    message:
      'Expected the default weight decay (entry 0) to be a number but found [0, "bias"]; the last entry must be a bare number such as 1e-4, after the rules',
  },
  {
    what: "Default that is a string",
    run: groupsOf([[0, "bias"], "1e-4"]),
    error: PolicyError,
    message:
      'Expected the default weight decay (entry 1) to be a number but found "1e-4"',
  },
  {
    what: "Negative default",
    run: groupsOf([[0, "bias"], -1e-4]),
    error: PolicyError,
    message:
      "Expected the default weight decay (entry 1) to be a finite number >= 0 but found -0.0001",
  },
  {
    what: "NaN default",
    run: groupsOf(NaN),
    error: PolicyError,
    message:
      "Expected the default weight decay to be a finite number >= 0 but found NaN",
  },
  {
    what: "Infinite default",
    run: groupsOf([Infinity]),
    error: PolicyError,
    message:
      "Expected the default weight decay (entry 0) to be a finite number >= 0 but found Infinity",
  },
  {
    what: "Rule with three entries",
    run: groupsOf([[0, "bias", "extra"], 1e-4]),
    error: PolicyError,
    message:
      'Rule 0 must be a [value, pattern] pair but found [0, "bias", "extra"]',
  },
  {
    what: "Bare number before the default",
    run: groupsOf([[0, "bias"], 1e-5, 1e-4]),
    error: PolicyError,
    message:
      "Rule 1 is a bare number (0.00001) but only the last entry may be the default; write a rule as [value, pattern]",
  },
  {
    what: "Rule value NaN",
    run: groupsOf([[NaN, "bias"], 1e-4]),
    error: PolicyError,
    message:
      'Rule 0 must have a finite number as its value (negative means "use the default") but found NaN',
  },
  {
    what: "Rule value that is a string",
    run: groupsOf([["0", "bias"], 1e-4]),
    error: PolicyError,
    message:
      'Rule 0 must have a finite number as its value (negative means "use the default") but found "0"',
  },
  {
    what: "Pattern that is a number",
    run: groupsOf([[0, 42], 1e-4]),
    error: PolicyError,
    message:
      "Rule 0 pattern must be a regex string, a RegExp, a class, an array of classes or class names, or where(predicate) but found 42",
  },
  {
    what: "Predicate not wrapped in where()",
    run: groupsOf([
      [0, (p: { name: string }) => p.name.endsWith("bias")],
      1e-4,
    ]),
    error: PolicyError,
    message:
      "Rule 0 pattern is an anonymous function without a prototype, so it is no class; wrap predicates as where((p) => ...)",
  },
  {
    what: "Class name that is no identifier",
    run: groupsOf([[0, ["Layer Norm"]], 1e-4]),
    error: PolicyError,
    message:
      'Rule 0 pattern lists "Layer Norm" as a class name, but class names are identifiers; to search parameter names, use the regex as the whole pattern',
  },
  {
    what: "Nested array of classes",
    run: groupsOf([[0, [["LayerNorm"]]], 1e-4]),
    error: PolicyError,
    message:
      'Rule 0 pattern array must hold classes and class names but holds ["LayerNorm"]',
  },
  {
    what: "Invalid regex",
    run: groupsOf([[0, "layers.(0"], 1e-4]),
    error: PolicyError,
    message:
      'Rule 0 pattern "layers.(0" is not a valid regular expression (RE2 syntax): missing closing ): "layers.(0"',
  },
  {
    what: "Python `\\Z` anchor",
    run: groupsOf([[0, "bias\\Z"], 1e-4]),
    error: PolicyError,
    message:
      'Rule 0 pattern "bias\\\\Z" uses Python\'s "\\Z" anchor, which RE2 lacks; write "bias\\\\z"',
  },
  {
    what: "Python `{,n}` repeat",
    run: groupsOf([[0, "layers\\.\\d{,2}\\."], 1e-4]),
    error: PolicyError,
    message:
      'Rule 0 pattern "layers\\\\.\\\\d{,2}\\\\." uses Python\'s "{,n}" repeat, which RE2 lacks; write "layers\\\\.\\\\d{0,2}\\\\."',
  },
  {
    what: "Lookbehind in a string pattern",
    run: groupsOf([[0, "(?<!norm)\\.bias"], 1e-4]),
    error: PolicyError,
    message:
      'Rule 0 pattern "(?<!norm)\\\\.bias" uses a lookbehind "(?<=...)" or "(?<!...)"; RE2 lacks it, so that matching stays linear in time; pass a RegExp object, which runs as JavaScript',
  },
  {
    what: "Backreference in a string pattern",
    run: groupsOf([[0, "(?P<n>\\w)(?P=n)"], 1e-4]),
    error: PolicyError,
    message:
      'Rule 0 pattern "(?P<n>\\\\w)(?P=n)" uses a backreference such as "\\1" or "(?P=name)"; RE2 lacks it, so that matching stays linear in time; pass a RegExp object, which runs as JavaScript',
  },
  {
    what: "`where` object without a function",
    run: groupsOf([[0, { where: "bias" }], 1e-4]),
    error: PolicyError,
    message:
      'Rule 0 pattern a where() object must hold a function but holds "bias"',
  },
  {
    what: "Predicate that throws",
    run: groupsOf([[
      0,
      where(({ param }) => (param as { grad: Float32Array }).grad.length > 0),
    ], 1e-4]),
    error: PolicyError,
    message: /^Rule 0 where\(\) predicate threw on parameter "fc\.weight": /,
  },
  {
    what: "Predicate that returns no boolean",
    run: groupsOf([[0, where((() => "yes") as never)], 1e-4]),
    error: PolicyError,
    message:
      'Rule 0 where() predicate must return a boolean but returned "yes" for parameter "fc.weight"',
  },
  // --- sources ------------------------------------------------------------------
  {
    what: "Model passed where a source is expected",
    run: (f) => getParamGroups(f.model as never, 1e-4),
    error: TypeError,
    message:
      "Expected source to be an iterable of { name, param } or an object with namedParameters() but found an object; for a plain object tree, pass namedParameters(model)",
  },
  {
    what: "Source entry without a name",
    run: (f) => getParamGroups([{ param: f.model.fc.weight }] as never, 1e-4),
    error: TypeError,
    message:
      "Expected source entry 0 to have a string name but found undefined",
  },
  {
    what: "Source entry without a parameter",
    run: (f) =>
      getParamGroups(
        [{ name: "fc.weight", param: f.model.fc.weight }, {
          name: "fc.bias",
        }] as never,
        1e-4,
      ),
    error: TypeError,
    message:
      'Expected source entry 1 ("fc.bias") to have a param but found undefined',
  },
  {
    what: "Owner that is not an object",
    run: (f) =>
      getParamGroups(
        [{
          name: "fc.weight",
          param: f.model.fc.weight,
          owner: "Linear",
        }] as never,
        1e-4,
      ),
    error: TypeError,
    message:
      'Expected source entry 0 ("fc.weight") owner to be an object but found "Linear"',
  },
  {
    what: "Two parameters under one name",
    run: (f) =>
      getParamGroups([
        { name: "fc.weight", param: f.model.fc.weight },
        { name: "fc.weight", param: f.model.fc.bias },
      ], 1e-4),
    error: PolicyError,
    message:
      'Expected each parameter name once but "fc.weight" names two different parameters',
  },
  {
    what: "`namedParameters()` that returns no iterable",
    run: () => getParamGroups({ namedParameters: () => null } as never, 1e-4),
    error: TypeError,
    message:
      "Expected namedParameters() to return an iterable but it returned null",
  },
  {
    what: "Walker root that is no object",
    run: () => namedParameters("model" as never),
    error: TypeError,
    message: 'Expected root to be an object but found "model"',
  },
  {
    what: "Source that yields no parameter",
    run: () => getParamGroups([], 1e-4),
    error: TypeError,
    message:
      "Expected source to yield at least one parameter but it yielded none: namedParameters(model) finds Parameter instances (pass isParameter for other tensor types), and a TensorFlow.js model needs tfjsNamedParameters(model)",
  },
  {
    what: "TensorFlow.js model where a source is expected",
    run: () =>
      getParamGroups(
        { name: "m", layers: [], trainableWeights: [] } as never,
        1,
      ),
    error: TypeError,
    message:
      'Expected source to be an iterable of { name, param } but found a TensorFlow.js model; pass tfjsNamedParameters(model), from "@decoupled/weight-decay/tfjs"',
  },
  {
    what: "Parameter under a Map key that is not a string or number",
    run: (f) => namedParameters({ table: new Map([[{}, f.model.fc.weight]]) }),
    error: TypeError,
    message:
      'Expected the Map at "table" to hold parameters under string or number keys but found an object',
  },
  {
    what: "Unknown option of `getParamGroups()`",
    run: (f) =>
      getParamGroups(namedParameters(f.model), 1, { lr: 0.1 } as never),
    error: TypeError,
    message:
      'Expected getParamGroups() options to have only the keys logger but found "lr"; pass the learning rate to step(lr), and scale it per group with lrScale',
  },
  // --- group policies -----------------------------------------------------------
  {
    what: "Group policy with a PyTorch-style key",
    run: groupsOf({ weightDecay: 0.05, lr_scale: [[0.1, "fc"], 1] }),
    error: PolicyError,
    message:
      'Expected a group policy to have only the keys weightDecay and lrScale but found "lr_scale"; use lrScale',
  },
  {
    what: "Group policy without `weightDecay`",
    run: groupsOf({ lrScale: 1 }),
    error: PolicyError,
    message:
      "Expected a group policy { weightDecay, lrScale? } to have weightDecay but found none",
  },
  {
    what: "Negative default lrScale",
    run: groupsOf({ weightDecay: 0, lrScale: [[2, "fc"], -1] }),
    error: PolicyError,
    message:
      "Expected the default lrScale (entry 1) to be a finite number >= 0 but found -1",
  },
  {
    what: "lrScale rule that is not a pair",
    run: groupsOf({ weightDecay: 0, lrScale: [[2], 1] }),
    error: PolicyError,
    message: "lrScale rule 0 must be a [value, pattern] pair but found [2]",
  },
  {
    what: "Layer decay of 1.5",
    run: groupsOf({
      weightDecay: 0,
      lrScale: { layerDecay: 1.5, groupMatcher: { blocks: "^blocks" } },
    }),
    error: PolicyError,
    message: "Expected layerDecay to be a number in (0, 1] but found 1.5",
  },
  {
    what: "Layer decay with timm's spelling",
    run: groupsOf({
      weightDecay: 0,
      lrScale: { layer_decay: 0.75, groupMatcher: {} },
    }),
    error: PolicyError,
    message: /^Layer decay spec has unknown key "layer_decay": /,
  },
  {
    what: "Group matcher with an integer-like key",
    run: groupsOf({
      weightDecay: 0,
      lrScale: { layerDecay: 0.75, groupMatcher: { "0": "^stem" } },
    }),
    error: PolicyError,
    message: /^groupMatcher key "0" /,
  },
  // --- parameters ---------------------------------------------------------------
  {
    what: "Parameter data that is a Float64Array",
    run: () => new Parameter(new Float64Array(4) as never),
    error: TypeError,
    message:
      "Expected parameter data to be a Float32Array or an array of numbers but found a Float64Array",
  },
  {
    what: "Parameter data with a non-number",
    run: () => new Parameter([1, "2", 3] as never),
    error: TypeError,
    message:
      'Expected parameter data to hold only numbers but found "2" at index 1',
  },
  {
    what: "Shape that disagrees with the data",
    run: () => new Parameter([1, 2, 3], [2, 2]),
    error: RangeError,
    message: "Expected shape [2, 2] to hold 4 values but data has 3",
  },
  {
    what: "Shape with a fraction",
    run: () => new Parameter([1, 2, 3], [1.5, 2]),
    error: TypeError,
    message:
      "Expected shape to be an array of non-negative integers but found [1.5, 2]",
  },
  // --- decay --------------------------------------------------------------------
  {
    what: "NaN learning rate",
    run: (f) => new CpuDecay(f.groups).step(NaN),
    error: RangeError,
    message: "Expected lr to be a finite number >= 0 but found NaN",
  },
  {
    what: "Negative learning rate",
    run: (f) => new CpuDecay(f.groups).step(-1e-3),
    error: RangeError,
    message: "Expected lr to be a finite number >= 0 but found -0.001",
  },
  {
    what: "Factor below 0 (`lr * weightDecay > 1`)",
    run: (f) => new CpuDecay(f.groups).step(20),
    error: RangeError,
    message:
      "Expected lr * weightDecay <= 1 so parameters keep their sign, but group 0 has lr * weightDecay = 20 * 0.1 = 2, a factor of -1",
  },
  {
    what: "`maxLr` missing for `schedule`",
    run: (f) => new CpuDecay(f.groups, { scaling: "schedule" }),
    error: RangeError,
    message:
      'Expected maxLr to be a finite number > 0 for scaling "schedule" but found undefined',
  },
  {
    what: "`maxLr` of 0 for `corrected`",
    run: (f) => new CpuDecay(f.groups, { scaling: "corrected", maxLr: 0 }),
    error: RangeError,
    message:
      'Expected maxLr to be a finite number > 0 for scaling "corrected" but found 0',
  },
  {
    what: "Unknown scaling",
    run: (f) => new CpuDecay(f.groups, { scaling: "cosine" as never }),
    error: RangeError,
    message:
      'Expected scaling to be one of "lr", "schedule", "independent", "corrected" but found "cosine"',
  },
  {
    what: "Negative group weight decay",
    run: (f) => new CpuDecay([{ ...f.groups[0]!, weightDecay: -0.1 }]),
    error: RangeError,
    message:
      "Expected group 0 weightDecay to be a finite number >= 0 but found -0.1",
  },
  {
    what: "Group params that are not an array",
    run: (f) =>
      new CpuDecay([{ weightDecay: 0.1, params: f.model.fc.weight } as never]),
    error: TypeError,
    message: "Expected group 0 params to be an array but found a Parameter",
  },
  {
    what: "Group with PyTorch's `lr`",
    run: (f) => new CpuDecay([{ ...f.groups[0]!, lr: 0 } as never]),
    error: TypeError,
    message:
      'Expected group 0 to have only the keys weightDecay, lrScale, params, names, aliases but found "lr"; pass the learning rate to step(lr), and scale it per group with lrScale',
  },
  {
    what: "Group with `weight_decay`",
    run: (f) => new CpuAdamW([{ ...f.groups[0]!, weight_decay: 0.1 } as never]),
    error: TypeError,
    message:
      'Expected group 0 to have only the keys weightDecay, lrScale, params, names, aliases but found "weight_decay"; use weightDecay',
  },
  {
    what: "Negative group lrScale",
    run: (f) => new CpuDecay([{ ...f.groups[0]!, lrScale: -1 }]),
    error: RangeError,
    message: "Expected group 0 lrScale to be a finite number >= 0 but found -1",
  },
  {
    what: "Engine without parameters",
    run: () => new CpuDecay([{ weightDecay: 0.1, params: [], names: [] }]),
    error: TypeError,
    message:
      "Expected groups to hold at least one parameter but found 1 empty groups: an engine without parameters would silently do nothing",
  },
  {
    what: "Unknown decay option",
    run: (f) => new CpuDecay(f.groups, { weight_decay: 0.1 } as never),
    error: TypeError,
    message:
      'Expected CpuDecay options to have only the keys scaling, maxLr but found "weight_decay"; set weightDecay per group, e.g. with getParamGroups',
  },
  {
    what: "Decay scale that overflows (`maxLr` tiny)",
    run: (f) =>
      new CpuDecay(f.groups, { scaling: "schedule", maxLr: 1e-320 }).step(1),
    error: RangeError,
    message:
      'Expected every group\'s learning rate and decay scale to be finite but group 0 has scaling "schedule" with maxLr 1e-320 gives s(lr) = Infinity',
  },
  {
    what: "`lr * lrScale` that overflows",
    run: (f) => new CpuDecay([{ ...f.groups[0]!, lrScale: 1e300 }]).step(1e300),
    error: RangeError,
    message:
      "Expected every group's learning rate and decay scale to be finite but group 0 has lr * lrScale = 1e+300 * 1e+300 = Infinity",
  },
  {
    what: "Parameter in two groups",
    run: (f) =>
      new CpuDecay([...f.groups, {
        weightDecay: 0.2,
        params: [f.model.fc.weight],
        names: ["again"],
      }]),
    error: TypeError,
    message:
      'Expected each parameter in one place but group 2 parameter "again" is also group 0 parameter "fc.weight"; it would be decayed twice',
  },
  {
    what: "Parameters that share memory",
    run: (f) => {
      const view = new Parameter(f.model.fc.weight.data.subarray(1, 3));
      return new CpuDecay([...f.groups, {
        weightDecay: 0.2,
        params: [view],
        names: ["view"],
      }]);
    },
    error: TypeError,
    message:
      'Expected parameters to hold separate memory but group 0 parameter "fc.weight" and group 2 parameter "view" overlap in one ArrayBuffer; each would be decayed twice',
  },
  {
    what: "Parameter-like object without Float32Array data",
    run: () =>
      new CpuDecay([{
        weightDecay: 0.1,
        params: [{ data: [1, 2] } as never],
        names: ["w"],
      }]),
    error: TypeError,
    message:
      'Expected group 0 parameter "w" to hold its values in a Float32Array but found [1, 2]',
  },
  {
    what: "Parameter-like object whose shape disagrees",
    run: () =>
      new CpuDecay([{
        weightDecay: 0.1,
        params: [{ data: new Float32Array(3), shape: [2, 2] } as never],
        names: ["w"],
      }]),
    error: RangeError,
    message: 'Expected group 0 parameter "w" shape [2, 2] to hold its 3 values',
  },
  // --- AdamW ---------------------------------------------------------------------
  {
    what: "AdamW beta of 1",
    run: (f) => new CpuAdamW(f.groups, { betas: [0.9, 1] }),
    error: RangeError,
    message: "Expected betas[1] to be a number in [0, 1) but found 1",
  },
  {
    what: "AdamW betas that are not a pair",
    run: (f) => new CpuAdamW(f.groups, { betas: [0.9] as never }),
    error: TypeError,
    message: "Expected betas to be a pair [beta1, beta2] but found [0.9]",
  },
  {
    what: "AdamW eps of 0",
    run: (f) => new CpuAdamW(f.groups, { eps: 0 }),
    error: RangeError,
    message: "Expected eps to be a finite number > 0 but found 0",
  },
  {
    what: "AdamW option `weight_decay` (it is per group)",
    run: (f) => new CpuAdamW(f.groups, { weight_decay: 0.01 } as never),
    error: TypeError,
    message:
      'Expected CpuAdamW options to have only the keys betas, eps, maxGradNorm, skipNonFinite, scaling, maxLr but found "weight_decay"; set weightDecay per group, e.g. with getParamGroups',
  },
  {
    what: "AdamW option with PyTorch's spelling",
    run: (f) => new CpuAdamW(f.groups, { beta1: 0.9 } as never),
    error: TypeError,
    message:
      'Expected CpuAdamW options to have only the keys betas, eps, maxGradNorm, skipNonFinite, scaling, maxLr but found "beta1"; use betas: [beta1, beta2]',
  },
  {
    what: "`maxGradNorm` of 0",
    run: (f) => new CpuAdamW(f.groups, { maxGradNorm: 0 }),
    error: RangeError,
    message:
      "Expected maxGradNorm to be a number > 0 (finite in f32, or Infinity to compute the norm without clipping) but found 0",
  },
  {
    what: "`skipNonFinite` that is not a boolean",
    run: (f) => new CpuAdamW(f.groups, { skipNonFinite: "yes" as never }),
    error: TypeError,
    message: 'Expected skipNonFinite to be a boolean but found "yes"',
  },
  {
    what: "AdamW lr whose f32 step size overflows",
    run: (f) => {
      for (const group of f.groups) {
        for (const p of group.params) p.grad = new Float32Array(p.size);
      }
      // The group without weight decay: its factor stays 1 at any lr.
      return new CpuAdamW([f.groups[1]!]).step(1e39);
    },
    error: RangeError,
    message:
      "Expected every group's step size lr / (1 - beta1 ** t) to be finite in f32 (at most about 3.4e38) but group 0 has lr 1e+39, a step size of 1.0000000000000002e+40 at step 1",
  },
  {
    what: "AdamW state with a negative second moment",
    run: (f) => {
      const adamw = new CpuAdamW(f.groups);
      const state = adamw.state();
      state.params[0]!.v[1] = -1;
      adamw.loadState(state);
    },
    error: RangeError,
    message:
      'Expected state.params[0].v of parameter "fc.weight" to hold finite values >= 0 but found -1 at index 1',
  },
  {
    what: "AdamW step without a gradient",
    run: (f) => new CpuAdamW(f.groups).step(1e-3),
    error: TypeError,
    message:
      'Expected the gradient of group 0 parameter "fc.weight" to be a Float32Array but found undefined',
  },
  {
    what: "AdamW gradient of the wrong length",
    run: (f) => {
      for (const group of f.groups) {
        for (const p of group.params) p.grad = new Float32Array(p.size);
      }
      f.model.fc.weight.grad = new Float32Array(3);
      return new CpuAdamW(f.groups).step(1e-3);
    },
    error: RangeError,
    message:
      'Expected the gradient of group 0 parameter "fc.weight" to hold 4 values but found 3',
  },
  {
    what: "GPU AdamW gradient of the wrong length",
    run: (f) =>
      GpuAdamW.create(f.device!, f.groups).writeGrad(
        f.model.fc.weight,
        new Float32Array(3),
      ),
    error: RangeError,
    message:
      'Expected the gradient of parameter "fc.weight" to hold 4 values but found 3',
    gpu: true,
  },
  // --- GPU ----------------------------------------------------------------------
  {
    what: "Device that is not a GPUDevice",
    run: (f) => GpuDecay.create({} as never, f.groups),
    error: TypeError,
    message: "Expected a GPUDevice but found an object",
    gpu: true,
  },
  {
    what: "`maxShardBytes` below 256",
    run: (f) => GpuDecay.create(f.device!, f.groups, { maxShardBytes: 100 }),
    error: RangeError,
    message:
      /^Expected maxShardBytes to be a number from 256 to \d+ \(the device's maxStorageBufferBindingSize and maxBufferSize\) but found 100$/,
    gpu: true,
  },
  {
    what: "GPU step with a factor below 0",
    run: (f) => GpuDecay.create(f.device!, f.groups).step(11),
    error: RangeError,
    message:
      "Expected lr * weightDecay <= 1 so parameters keep their sign, but group 0 has lr * weightDecay = 11 * 0.1 = 1.1, a factor of -0.10000000000000009",
    gpu: true,
  },
  {
    what: "Binding of a parameter the engine does not hold",
    run: (f) =>
      GpuDecay.create(f.device!, f.groups.slice(1)).binding(f.model.fc.weight),
    error: TypeError,
    message:
      "Expected a parameter of this GpuDecay (one of the groups it was made with) but found a Parameter",
    gpu: true,
  },
  {
    what: "Buffer without STORAGE usage",
    run: (f) => {
      const buffer = f.device!.createBuffer({
        label: "uniforms",
        size: 16,
        usage: GPUBufferUsage.UNIFORM,
      });
      return GpuDecay.fromBuffers(f.device!, [{
        weightDecay: 0.1,
        params: [buffer],
        names: ["w"],
      }]);
    },
    error: TypeError,
    message:
      'Expected the buffer of group 0 parameter "w" to have STORAGE usage (uniforms)',
    gpu: true,
  },
  {
    what: "Caller buffer still mapped at a step",
    run: (f) => {
      const buffer = f.device!.createBuffer({
        size: 16,
        usage: GPUBufferUsage.STORAGE,
        mappedAtCreation: true,
      });
      return GpuDecay.fromBuffers(f.device!, [{
        weightDecay: 0.1,
        params: [buffer],
        names: ["w"],
      }]).step(0.1);
    },
    error: TypeError,
    message:
      'Expected the buffer of parameter "w" to be unmapped for the step, but it is mapped; unmap it first',
    gpu: true,
  },
  {
    what: "Unknown GPU option",
    run: (f) =>
      GpuAdamW.create(f.device!, f.groups, { shardBytes: 1 } as never),
    error: TypeError,
    message:
      'Expected GpuAdamW options to have only the keys betas, eps, maxGradNorm, skipNonFinite, scaling, maxLr, maxShardBytes but found "shardBytes"',
    gpu: true,
  },
  {
    what: "Binding offset not a multiple of 4",
    run: (f) => {
      const buffer = f.device!.createBuffer({
        size: 64,
        usage: GPUBufferUsage.STORAGE,
      });
      return GpuDecay.fromBuffers(f.device!, [{
        weightDecay: 0.1,
        params: [{ buffer, offset: 6, size: 8 }],
        names: ["w"],
      }]);
    },
    error: RangeError,
    message:
      'Expected group 0 parameter "w" to have an offset and size that are multiples of 4 but found offset 6, size 8',
    gpu: true,
  },
];

/** Every parameter value of a fixture, to show that a failed call changed nothing. */
export function snapshot(f: Fixture): number[][] {
  return [
    f.model.fc.weight,
    f.model.fc.bias,
    f.model.norm.weight,
    f.model.norm.bias,
  ].map((p) => [...p.data]);
}

/** Runs a case and returns the error it threw (or fails if it did not throw). */
export function thrown(bad: BadInput, f: Fixture): unknown {
  try {
    bad.run(f);
  } catch (error) {
    return error;
  }
  throw new Error(`${bad.what}: did not throw`);
}

/**
 * Runs every case (GPU ones on `device`) and returns the messages they really give,
 * each checked against the catalogue: error class, message, and no parameter changed.
 */
export function checkedMessages(device: GPUDevice): string[] {
  return BAD_INPUTS.map((bad) => {
    const f = fixture(device);
    const before = snapshot(f);
    const error = thrown(bad, f);
    const where = `${bad.what}: `;
    if (
      !(error instanceof bad.error) || (error as Error).name !== bad.error.name
    ) {
      throw new Error(`${where}expected a ${bad.error.name} but got ${error}`);
    }
    const { message } = error as Error;
    const matches = typeof bad.message === "string"
      ? message === bad.message
      : bad.message.test(message);
    if (!matches) {
      throw new Error(
        `${where}message ${
          JSON.stringify(message)
        } does not match ${bad.message}`,
      );
    }
    if (JSON.stringify(snapshot(f)) !== JSON.stringify(before)) {
      throw new Error(`${where}a parameter changed`);
    }
    return message;
  });
}

/** The README's table of errors, from the catalogue and the messages the cases really give. */
export function errorTable(messages: readonly string[]): string {
  const cell = (text: string) => text.replaceAll("|", "\\|");
  const rows = BAD_INPUTS.map((bad, i) =>
    `| ${cell(bad.what)} | \`${bad.error.name}\` | ${cell(messages[i]!)} |`
  );
  return ["| Input | Error | Message |", "| --- | --- | --- |", ...rows].join(
    "\n",
  );
}
