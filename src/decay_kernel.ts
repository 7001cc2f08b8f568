// Copyright 2026 the weight-decay authors. MIT license.
/**
 * The WGSL of the fused passes: the one home of the shader code, kept as strings so the
 * package works when imported from JSR (no file reads at run time).
 *
 * Every kernel shares one contract with the host:
 *
 * - A *chunk table* is made once per dispatch, like apex's `block_to_tensor` /
 *   `block_to_chunk`: chunk `c` is workgroup `c`'s work, a range of at most
 *   `DECAY_CHUNK_ELEMENTS` (or `ADAMW_CHUNK_ELEMENTS`) values that lies inside one group and one binding. For decay,
 *   groups with weight decay 0 get no chunks: they cost nothing. AdamW gives every
 *   group chunks, since weight decay 0 still gets the Adam update.
 * - Per step the host computes one factor per group,
 *   `Math.fround(1 - s(lr) * weightDecay)` (and AdamW's scalars), and writes them with
 *   one `writeBuffer` into a slot of a ring, bound with a dynamic offset, so several
 *   steps can be recorded before one submit.
 * - Workgroup `c` (counted across a 2-D grid, so sizes past 65,535 workgroups work) reads
 *   its chunk and its group's factor once; the inner loop is a plain `p[i] = p[i] * f`.
 *   A decay group whose factor is exactly 1 this step (lr 0) returns at once.
 *
 * `p * f` is one correctly rounded f32 multiply in WGSL, the same as
 * `Math.fround(p * f)` on the host, so decay results are bit-identical to `CpuDecay`'s.
 * AdamW's `sqrt` and `/` need not be correctly rounded in WGSL, so its results agree
 * with `CpuAdamW`'s within a few ULP.
 *
 * @module
 */

/** Threads per workgroup. */
export const WORKGROUP_SIZE = 256;
/**
 * Elements per decay chunk (vec4s in the arena, f32s in caller buffers): one
 * workgroup's work, 8 per thread. More per thread amortises the chunk lookup; fewer
 * gives small models more workgroups to spread over a GPU's cores. Measured on llvmpipe
 * over a ResNet-50 against a plain one-buffer scale kernel: 4 per thread ran at about
 * 0.9x, 8 at about 1.0x.
 */
export const DECAY_CHUNK_ELEMENTS: number = WORKGROUP_SIZE * 8;
/**
 * Elements per AdamW chunk, 4 per thread: with seven vec4 loads and stores per element,
 * 8 per thread ran at 0.76x of the one-buffer limit on llvmpipe, and 4 at 0.95x.
 */
export const ADAMW_CHUNK_ELEMENTS: number = WORKGROUP_SIZE * 4;
/** The arena starts every group at a multiple of this many vec4s, a multiple of every chunk. */
export const ARENA_GROUP_ELEMENTS: number = Math.max(
  DECAY_CHUNK_ELEMENTS,
  ADAMW_CHUNK_ELEMENTS,
);
/** Bytes of one chunk table entry. */
export const CHUNK_BYTES = 16;

/** The chunk table and the workgroup numbering every kernel shares. */
const CHUNKS_WGSL = /* wgsl */ `
// One workgroup's work: a range of one group's values in one binding. Made once.
struct Chunk {
  begin: u32,    // first element (in the arena always c * the chunk size)
  end: u32,      // one past the last element; at most a chunk after begin
  group: u32,    // index into the step's factors
  binding: u32,  // which value binding holds it (0 in the arena kernels)
}

// This dispatch's chunks: the grid may hold a few more workgroups, which find no work.
@group(0) @binding(0) var<storage, read> chunks: array<Chunk>;

fn chunk_index(workgroup: vec3<u32>, grid: vec3<u32>) -> u32 {
  return workgroup.x + workgroup.y * grid.x;
}
`;

/** A kernel's entry point, as {@linkcode chunkedEntryPoint} writes it. */
interface EntryPoint {
  readonly name: string;
  /** Elements per chunk: a multiple of `WORKGROUP_SIZE`. */
  readonly chunkElements: number;
  /**
   * Where a chunk's elements start: read from its table entry (`"table"`), or, in the
   * arena, where every group starts a chunk, computed from its index (`"index"`).
   * Computing it is much faster on llvmpipe (AdamW ran at 0.63x of a one-buffer kernel
   * reading it, 0.92x computing it): an offset derived from the workgroup id is known
   * to be the same in every lane, so the lanes' loads are known to be contiguous; one
   * read from memory is not. Computed, a surplus workgroup also needs no early return
   * (which masks the rest of the kernel): it starts past the last chunk's end.
   */
  readonly start: "table" | "index";
  /** Statements run once per workgroup: they define `factor`, and may return. */
  readonly prologue: string;
  /** Statements for element `i`. */
  readonly body: string;
}

/**
 * A kernel's entry point: each workgroup reads its chunk and runs the prologue once;
 * each thread runs the body for each of its elements of the chunk. Per-step values are
 * loaded in the prologue, since a load from a storage buffer inside the loop is
 * repeated for every element (the compiler cannot rule out that the loop's stores
 * change it).
 */
function chunkedEntryPoint(
  { name, chunkElements, start, prologue, body }: EntryPoint,
): string {
  const chunk = start === "table"
    ? `if (c >= arrayLength(&chunks)) { return; }
  let chunk = chunks[c];
  let begin = chunk.begin;`
    : `let chunk = chunks[min(c, arrayLength(&chunks) - 1u)];
  let begin = c * ${chunkElements}u;`;
  return /* wgsl */ `
@compute @workgroup_size(${WORKGROUP_SIZE})
fn ${name}(
  @builtin(workgroup_id) workgroup: vec3<u32>,
  @builtin(num_workgroups) grid: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let c = chunk_index(workgroup, grid);
  ${chunk}${prologue}
  for (var k = 0u; k < ${chunkElements / WORKGROUP_SIZE}u; k++) {
    let i = begin + k * ${WORKGROUP_SIZE}u + lane;
    if (i < chunk.end) { ${body} }
  }
}
`;
}

/** The decay kernels' per-step binding: one factor per group. */
const DECAY_STEP_WGSL = /* wgsl */ `
// One factor per group, Math.fround(1 - s(lr) * weightDecay) from the host; bound with
// a dynamic offset into the ring of per-step slots.
@group(0) @binding(1) var<storage, read> factors: array<f32>;
`;

/** Groups whose factor is 1 this step have nothing to do. */
const DECAY_PROLOGUE = `
  let factor = factors[chunk.group];
  if (factor == 1.0) { return; }`;

/**
 * The arena decay kernel: one binding, a shard of the arena, read and written as
 * `vec4<f32>`. Chunk bounds are in vec4s; a group's range may include the zero padding
 * between its tensors (each tensor starts 256-byte aligned), which stays zero.
 */
export const ARENA_DECAY_WGSL: string =
  /* wgsl */ `${CHUNKS_WGSL}${DECAY_STEP_WGSL}
// One shard of the arena: every parameter's values, 256-byte aligned, sorted by group.
@group(0) @binding(2) var<storage, read_write> arena: array<vec4<f32>>;
${
    chunkedEntryPoint({
      name: "decay",
      chunkElements: DECAY_CHUNK_ELEMENTS,
      start: "index",
      prologue: DECAY_PROLOGUE,
      body: "arena[i] = arena[i] * factor;",
    })
  }`;

/**
 * The buffers decay kernel, for caller-owned buffers: `bindings` value bindings read
 * and written as `f32` (a caller's tensor may start at any 4-byte offset), chosen per
 * workgroup by a switch, since WGSL cannot index bindings.
 *
 * @param bindings How many buffers one dispatch binds: the adapter's
 * `maxStorageBuffersPerShaderStage` less the two tables.
 * @returns The WGSL source.
 */
export function buffersDecayWgsl(bindings: number): string {
  const indexes = Array.from({ length: bindings }, (_, b) => b);
  const declarations = indexes.map((b) =>
    `@group(0) @binding(${
      b + 2
    }) var<storage, read_write> values${b}: array<f32>;`
  );
  const cases = indexes.map((b) =>
    `    case ${b}u: { values${b}[i] = values${b}[i] * factor; }`
  );
  return /* wgsl */ `${CHUNKS_WGSL}${DECAY_STEP_WGSL}
// Caller-owned buffers (or 256-byte aligned windows of them), bound whole.
${declarations.join("\n")}

fn scale(binding: u32, i: u32, factor: f32) {
  switch (binding) {
${cases.join("\n")}
    default: {}
  }
}
${
    chunkedEntryPoint({
      name: "decay",
      chunkElements: DECAY_CHUNK_ELEMENTS,
      start: "table",
      prologue: DECAY_PROLOGUE,
      body: "scale(chunk.binding, i, factor);",
    })
  }`;
}

/** Per-step f32 scalars of the AdamW kernel: the fields of its `AdamWScalars` struct. */
export const ADAMW_SCALARS = 8;

/**
 * The AdamW math, one function per value it updates and one for a whole step, in the
 * op order of PyTorch's fused CUDA AdamW (`adam_math` in
 * `aten/src/ATen/native/cuda/fused_adam_utils.cuh`): `m = b1 * m + (1 - b1) * g`,
 * `v = b2 * v + (1 - b2) * g * g`, then
 * `p -= step_size * m / (sqrt(v) / sqrt(1 - b2^t) + eps)` with
 * `step_size = lr / (1 - b1^t)`. The decay `p * factor` comes first, with the factor
 * of `GpuDecay`, as PyTorch's foreach and single-tensor AdamW do with
 * `param.mul_(1 - lr * weight_decay)` (the fused kernel's `param -= lr * wd * param`
 * rounds once more). Kept apart from the arena kernel so that benchmark baselines
 * compute exactly the same thing.
 */
export const ADAMW_MATH_WGSL: string = /* wgsl */ `
// Computed on the host once per step, in f64, each rounded to f32.
struct AdamWScalars {
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  step_size: f32,              // lr / (1 - beta1^t)
  bias_correction2_sqrt: f32,  // sqrt(1 - beta2^t)
  eps: f32,
  _pad: f32,
}

fn first_moment(s: AdamWScalars, m: vec4<f32>, g: vec4<f32>) -> vec4<f32> {
  return s.beta1 * m + s.one_minus_beta1 * g;
}

fn second_moment(s: AdamWScalars, v: vec4<f32>, g: vec4<f32>) -> vec4<f32> {
  return s.beta2 * v + s.one_minus_beta2 * g * g;
}

// decayed is p * factor; m and v are the moments of this step.
fn adam_update(s: AdamWScalars, decayed: vec4<f32>, m: vec4<f32>, v: vec4<f32>) -> vec4<f32> {
  let denom = sqrt(v) / s.bias_correction2_sqrt + s.eps;
  return decayed - s.step_size * m / denom;
}

// A parameter and both its moments after one step.
struct AdamWValues {
  p: vec4<f32>,
  m: vec4<f32>,
  v: vec4<f32>,
}

// One step of four values: decay by the group's factor, then Adam with gradient g.
fn adamw_step(s: AdamWScalars, factor: f32, p: vec4<f32>, g: vec4<f32>, m: vec4<f32>, v: vec4<f32>) -> AdamWValues {
  let m_next = first_moment(s, m, g);
  let v_next = second_moment(s, v, g);
  return AdamWValues(adam_update(s, p * factor, m_next, v_next), m_next, v_next);
}
`;

/**
 * The arena AdamW kernel: decoupled decay and the Adam update of every element in one
 * pass, over four arenas of one layout. Every group has chunks (weight decay 0 still
 * gets the Adam update); the zero padding between tensors stays zero, since a zero
 * gradient keeps zero moments and `0 / eps` moves nothing.
 */
export const ARENA_ADAMW_WGSL: string =
  /* wgsl */ `${CHUNKS_WGSL}${ADAMW_MATH_WGSL}
// Per step, bound with a dynamic offset into the ring: the scalars, then one decay
// factor per group.
struct AdamWStep {
  adam: AdamWScalars,
  factors: array<f32>,
}
@group(0) @binding(1) var<storage, read> step: AdamWStep;

// One shard of each arena, all laid out alike: parameters, gradients (written by the
// caller's backward pass, only read here), first and second moments.
@group(0) @binding(2) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> exp_avg: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> exp_avg_sq: array<vec4<f32>>;
${
    chunkedEntryPoint({
      name: "adamw",
      chunkElements: ADAMW_CHUNK_ELEMENTS,
      start: "index",
      prologue: `
  let scalars = step.adam;
  let factor = step.factors[chunk.group];`,
      body: `
      let next = adamw_step(scalars, factor, param[i], grad[i], exp_avg[i], exp_avg_sq[i]);
      param[i] = next.p;
      exp_avg[i] = next.m;
      exp_avg_sq[i] = next.v;
    `,
    })
  }`;
