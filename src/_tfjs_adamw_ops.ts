// Copyright 2026 the weight-decay authors. MIT license.
// TfjsAdamW's per-variable step: public TensorFlow.js operations only, so it runs on any
// backend. Each operation rounds to f32 on its own, so it agrees with CpuAdamW within a
// few ULP rather than bit for bit: CpuAdamW computes both moments with fused
// multiply-adds, which TensorFlow.js cannot express.

import type { _Tensor, _Tf, _Variable } from "./_tfjs_adamw_types.ts";
import type { _Active } from "./_tfjs_adamw_slots.ts";
import {
  type _AdamWHyper,
  _biasCorrection,
  _biasCorrection2Sqrt,
  _stepSize,
} from "./_adamw.ts";

/** What every path of a step is given. */
export interface _StepContext {
  readonly tf: _Tf;
  readonly hyper: _AdamWHyper;
  /** The slots with gradients, in slot order. */
  readonly active: readonly _Active[];
  /** Each group's decay factor this step. */
  readonly factors: Float32Array;
  /** Each group's learning rate this step, `lr * lrScale` in f64. */
  readonly groupLr: Float64Array;
  /** The step count `t`: an int32 scalar. */
  readonly step: _Variable;
  /** `t` before this step, when the host knows it (always, without `skipNonFinite`). */
  readonly knownStep: number | undefined;
}

/** The most entries of the bias-correction tables, as GpuAdamW's table allows. */
const MAX_TABLE_ENTRIES = 1 << 24;

/**
 * Bias corrections by step count, for steps whose count only the device knows (a
 * skipped step does not count): entry t holds `1 / (1 - beta1^t)` and
 * `sqrt(1 - beta2^t)`, each in f64 rounded once to f32, up to the first t where both
 * are 1, which every later t reads.
 */
export interface _BiasTables {
  readonly first: _Tensor;
  readonly second: _Tensor;
  readonly last: number;
}

/**
 * Makes the tables for `hyper`'s betas.
 *
 * @throws {RangeError} If the corrections take more than 2 ** 24 steps to reach 1.
 */
export function _biasTables(
  tf: _Tf,
  { beta1, beta2 }: _AdamWHyper,
): _BiasTables {
  const first: number[] = [1];
  const second: number[] = [1];
  for (let t = 1;; t++) {
    if (t >= MAX_TABLE_ENTRIES) {
      throw new RangeError(
        `Expected betas whose bias corrections reach 1 in f32 within ${MAX_TABLE_ENTRIES} steps (needed with skipNonFinite off the fast paths) but found [${beta1}, ${beta2}]`,
      );
    }
    first.push(Math.fround(1 / _biasCorrection(beta1, t)));
    second.push(_biasCorrection2Sqrt(beta2, t));
    if (first[t] === 1 && second[t] === 1) break;
  }
  return {
    first: tf.tensor(Float32Array.from(first), [first.length], "float32"),
    second: tf.tensor(Float32Array.from(second), [second.length], "float32"),
    last: first.length - 1,
  };
}

/**
 * Takes one step with TensorFlow.js operations inside `tidy`, assigning each variable
 * and moment its new value. With `skipNonFinite` the step decides on the device whether
 * it runs (`where`), and reads its bias corrections from `tables` by the device's count.
 *
 * @returns The step count after the step, when the host knows it.
 */
export function _opsStep(
  context: _StepContext,
  tables: () => _BiasTables,
): number | undefined {
  const { tf, hyper, active, factors, groupLr, step, knownStep } = context;
  const f = Math.fround;
  const weight = f(1 - hyper.beta1);
  const fromGrad = Math.abs(weight) >= 0.5;
  const lerpCoefficient = fromGrad ? f(weight - 1) : weight;
  const oneMinusB2 = f(1 - hyper.beta2);
  const skip = hyper.skipNonFinite;
  const next = skip ? undefined : knownStep! + 1;
  // Made outside the tidy, which would free them.
  const biasTables = skip ? tables() : undefined;
  tf.tidy(() => {
    let coefficient: _Tensor | undefined;
    let runs: _Tensor | undefined;
    if (hyper.maxGradNorm !== 0 || skip) {
      // Added one at a time: an addN of many inputs takes more storage bindings than
      // the webgpu backend's device allows (8), which fails validation.
      const squares = active.map(({ grad }) => tf.sum(tf.square(grad))).reduce(
        (sum, next) => tf.add(sum, next),
      );
      const finite = tf.isFinite(squares);
      if (hyper.maxGradNorm !== 0 && Number.isFinite(hyper.maxGradNorm)) {
        // As PyTorch: max_norm / (norm + 1e-6) is a reciprocal, then a multiply.
        const clip = tf.minimum(
          1,
          tf.mul(
            tf.reciprocal(tf.add(tf.sqrt(squares), f(1e-6))),
            f(hyper.maxGradNorm),
          ),
        );
        coefficient = tf.where(finite, clip, tf.scalar(1, "float32"));
      }
      if (skip) runs = finite;
    }
    const { stepSize, bc2Sqrt, count } = next === undefined
      ? _deviceCorrections(tf, step, runs!, biasTables!, groupLr)
      : _hostCorrections(tf, hyper, next, groupLr);
    for (const { slot, variable, grad } of active) {
      const m = slot.m!;
      const v = slot.v!;
      const g = coefficient === undefined ? grad : tf.mul(grad, coefficient);
      const decayed = tf.mul(variable, factors[slot.group]!);
      const diff = tf.sub(g, m);
      const m1 = fromGrad
        ? tf.add(g, tf.mul(diff, lerpCoefficient))
        : tf.add(m, tf.mul(diff, weight));
      const v1 = tf.add(
        tf.mul(v, f(hyper.beta2)),
        tf.mul(tf.mul(g, oneMinusB2), g),
      );
      const denom = tf.add(tf.div(tf.sqrt(v1), bc2Sqrt), f(hyper.eps));
      const p1 = tf.add(
        decayed,
        tf.div(tf.mul(m1, stepSize(slot.group)), denom),
      );
      if (runs === undefined) {
        variable.assign(p1);
        m.assign(m1);
        v.assign(v1);
      } else {
        variable.assign(tf.where(runs, p1, variable));
        m.assign(tf.where(runs, m1, m));
        v.assign(tf.where(runs, v1, v));
      }
    }
    step.assign(count);
  });
  return next;
}

/** A step's bias corrections: the negated step size per group, and `sqrt(1 - b2^t)`. */
interface _Corrections {
  readonly stepSize: (group: number) => _Tensor | number;
  readonly bc2Sqrt: _Tensor | number;
  /** The step count after the step. */
  readonly count: _Tensor;
}

/** Corrections for a count the host knows: exact, as CpuAdamW computes them. */
function _hostCorrections(
  tf: _Tf,
  hyper: _AdamWHyper,
  t: number,
  groupLr: Float64Array,
): _Corrections {
  return {
    stepSize: (g) => -_stepSize(groupLr[g]!, hyper.beta1, t),
    bc2Sqrt: _biasCorrection2Sqrt(hyper.beta2, t),
    count: tf.scalar(t, "int32"),
  };
}

/**
 * Corrections for the count on the device, which a skipped step does not advance: the
 * step size is `lr_g` times the table's `1 / (1 - b1^t)`, within an ULP of the exact one.
 */
function _deviceCorrections(
  tf: _Tf,
  step: _Variable,
  runs: _Tensor,
  tables: _BiasTables,
  groupLr: Float64Array,
): _Corrections {
  const count = tf.add(step, tf.cast(runs, "int32"));
  const index = tf.minimum(count, tf.scalar(tables.last, "int32"));
  const first = tf.gather(tables.first, index);
  return {
    stepSize: (g) => tf.mul(first, -Math.fround(groupLr[g]!)),
    bc2Sqrt: tf.gather(tables.second, index),
    count,
  };
}
