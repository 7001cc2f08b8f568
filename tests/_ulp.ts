// Copyright 2026 the weight-decay authors. MIT license.
// Distances between f32 values in units in the last place, for engines that agree with
// their reference within a tolerance rather than bit for bit.

const scratch = new Float32Array(1);
const scratchBits = new Int32Array(scratch.buffer);

/** An f32 value's position on a line where neighbouring f32 values are 1 apart; ±0 is 0. */
function ordinal(value: number): number {
  scratch[0] = value;
  const bits = scratchBits[0]!;
  return bits < 0 ? -(bits & 0x7fffffff) : bits;
}

/**
 * The largest distance in ULP between `actual[i]` and `expected[i]`: 0 when equal
 * (-0 and 0 included, NaN and NaN too), Infinity when only one is NaN.
 */
export function maxUlpDistance(
  actual: Float32Array,
  expected: Float32Array,
): number {
  if (actual.length !== expected.length) {
    throw new Error(`${actual.length} values, expected ${expected.length}`);
  }
  let max = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(a) || Number.isNaN(e)) {
      if (Number.isNaN(a) !== Number.isNaN(e)) return Infinity;
      continue;
    }
    max = Math.max(max, Math.abs(ordinal(a) - ordinal(e)));
  }
  return max;
}
