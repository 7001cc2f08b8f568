// Copyright 2026 the weight-decay authors. MIT license.
// TfjsAdamW's step on TensorFlow.js's cpu backend: CpuAdamW's own per-value arithmetic
// on the variables' values, so the results are CpuAdamW's bit for bit, and a new tensor
// per variable and moment instead of a dozen per variable.

import type { _Tensor } from "./_tfjs_adamw_types.ts";
import type { _StepContext } from "./_tfjs_adamw_ops.ts";
import { _update } from "./cpu_adamw.ts";
import {
  _biasCorrection2Sqrt,
  _clipCoefficient,
  _globalNorm,
  _stepSize,
} from "./_adamw.ts";

/**
 * Takes one step on the host, reading every tensor with `dataSync` (on the cpu backend
 * the values themselves) and assigning new tensors of the results.
 *
 * @returns The step count after the step.
 */
export function _hostStep(context: _StepContext): number {
  const { tf, hyper, active, factors, groupLr, step } = context;
  const before = context.knownStep ?? step.dataSync()[0]!;
  const grads = active.map(({ grad }) => _values(grad));
  let coefficient = 1;
  if (hyper.maxGradNorm !== 0 || hyper.skipNonFinite) {
    const norm = _globalNorm(grads, (grad) => grad);
    if (hyper.skipNonFinite && !Number.isFinite(norm)) return before;
    coefficient = _clipCoefficient(norm, hyper.maxGradNorm);
  }
  const t = before + 1;
  const bc2Sqrt = _biasCorrection2Sqrt(hyper.beta2, t);
  tf.tidy(() => {
    active.forEach(({ slot, variable }, i) => {
      const p = _values(variable).slice();
      const m = _values(slot.m!).slice();
      const v = _values(slot.v!).slice();
      _update(
        p,
        grads[i]!,
        m,
        v,
        factors[slot.group]!,
        _stepSize(groupLr[slot.group]!, hyper.beta1, t),
        bc2Sqrt,
        coefficient,
        hyper,
      );
      variable.assign(tf.tensor(p, slot.shape, "float32"));
      slot.m!.assign(tf.tensor(m, slot.shape, "float32"));
      slot.v!.assign(tf.tensor(v, slot.shape, "float32"));
    });
    step.assign(tf.scalar(t, "int32"));
  });
  return t;
}

/** A float32 tensor's values, as the backend holds them when it can. */
function _values(tensor: _Tensor): Float32Array {
  const values = tensor.dataSync();
  return values instanceof Float32Array ? values : Float32Array.from(values);
}
