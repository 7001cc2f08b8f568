// Copyright 2026 the weight-decay authors. MIT license.
/**
 * The WGSL of the fused decay pass: the one home of the shader code, kept as strings so
 * the package works when imported from JSR (no file reads at run time).
 *
 * Every kernel shares one contract with the host:
 *
 * - A *segment* is a contiguous range of one group's values inside one binding. The
 *   segment table of a dispatch is made once: segments sorted by group, each with the
 *   number of chunks before it (`first_chunk`, a prefix sum).
 * - Per step the host writes a *run table* into a slot of a ring buffer: one run per
 *   group with work (for decay, groups whose factor is not 1, so groups with weight
 *   decay 0 cost nothing; for AdamW, every group), each naming its segments, the
 *   position of its first chunk among this step's chunks, and the factor
 *   `Math.fround(1 - s(lr) * weightDecay)` computed on the host. A kernel with
 *   per-step scalars (AdamW's) finds them in the run table's header.
 * - Workgroup `w` (counted across a 2-D grid, so sizes past 65,535 workgroups work)
 *   finds its run, then its segment, by binary search over those small tables: the
 *   factor is found once per workgroup, and the inner loop is a plain `p[i] = p[i] * f`.
 *   A kernel that runs every group every step (AdamW) reads a static table with one
 *   entry per chunk instead: its range and its run, found without a search.
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
/** Elements each thread scales per workgroup (vec4s in the arena kernel, f32s otherwise). */
export const ELEMENTS_PER_THREAD = 4;
/** Elements per chunk: one workgroup's work. */
export const CHUNK_ELEMENTS = WORKGROUP_SIZE * ELEMENTS_PER_THREAD;
/** Bytes of the run table header (`run_count`, `chunk_count`, padding). */
export const RUN_TABLE_HEADER_BYTES = 16;
/** Bytes of one run, and of one segment. */
export const ENTRY_BYTES = 16;

/** How a kernel's workgroups find their work: WGSL declarations and the entry's guard. */
interface Lookup {
  /** Declares binding 0 and `fn find_work(chunk: u32) -> Work`. */
  readonly wgsl: string;
  /** A statement the entry point runs first: returns from workgroups without work. */
  readonly guard: string;
}

/**
 * The lookup of the decay kernels: a binary search over this step's runs, then over the
 * run's segments, so that groups with factor 1 can be left out of a step.
 */
const SEARCH_LOOKUP: Lookup = {
  wgsl: /* wgsl */ `
// A contiguous range of one group's values in one binding. Made once per engine.
struct Segment {
  begin: u32,        // first element of the range
  end: u32,          // one past its last element
  first_chunk: u32,  // chunks of the segments before this one in the dispatch
  binding: u32,      // which value binding holds it (0 in the arena kernel)
}

// Static, per dispatch: segments sorted by group.
@group(0) @binding(0) var<storage, read> segments: array<Segment>;

fn find_work(chunk: u32) -> Work {
  // The last run whose first chunk is <= chunk.
  var low = 0u;
  var high = table.run_count;
  while (high - low > 1u) {
    let middle = (low + high) / 2u;
    if (table.runs[middle].first_chunk <= chunk) { low = middle; } else { high = middle; }
  }
  let run = table.runs[low];
  // The same chunk counted in the static numbering of the dispatch's segments.
  let position = chunk - run.first_chunk + segments[run.first_segment].first_chunk;
  var first = run.first_segment;
  var last = run.end_segment;
  while (last - first > 1u) {
    let middle = (first + last) / 2u;
    if (segments[middle].first_chunk <= position) { first = middle; } else { last = middle; }
  }
  let segment = segments[first];
  let begin = segment.begin + (position - segment.first_chunk) * CHUNK_ELEMENTS;
  return Work(begin, min(begin + CHUNK_ELEMENTS, segment.end), segment.binding, run.factor);
}
`,
  guard: "if (chunk >= table.chunk_count) { return; }",
};

/**
 * The lookup of kernels that run every group every step (AdamW), over an arena whose
 * groups start at chunk boundaries: chunk `c` covers elements from
 * `c * CHUNK_ELEMENTS`, and a static table gives its run and end. On llvmpipe this made
 * the AdamW kernel 1.2x faster than the search: there each loop iteration is paid once
 * per batch of lanes, a begin read from memory keeps loads from being known contiguous,
 * and an early return masks the rest of the kernel.
 */
const DIRECT_LOOKUP: Lookup = {
  wgsl: /* wgsl */ `
// The run of one chunk's group, and where its values end. Made once per engine.
struct Chunk {
  run: u32,
  end: u32,  // 0 for a chunk without values
}

// Static, per dispatch: every chunk from element 0.
@group(0) @binding(0) var<storage, read> chunks: array<Chunk>;

fn find_work(chunk: u32) -> Work {
  // Surplus workgroups of a 2-D grid read the last chunk, which ends before them.
  let found = chunks[min(chunk, arrayLength(&chunks) - 1u)];
  return Work(chunk * CHUNK_ELEMENTS, found.end, 0u, table.runs[found.run].factor);
}
`,
  guard: "",
};

/**
 * Declarations and the workgroup-to-work lookup shared by every kernel.
 *
 * @param lookup How a workgroup finds its work.
 * @param stepFields Fields of the run table between its header words and its runs: the
 * per-step scalars of a kernel that has any, 16 bytes a line.
 */
function sharedWgsl(lookup: Lookup, stepFields = ""): string {
  return /* wgsl */ `
const WORKGROUP_SIZE: u32 = ${WORKGROUP_SIZE}u;
const ELEMENTS_PER_THREAD: u32 = ${ELEMENTS_PER_THREAD}u;
const CHUNK_ELEMENTS: u32 = ${CHUNK_ELEMENTS}u;

// One group with work this step: its segments and its factor.
struct Run {
  first_segment: u32,  // its segments are first_segment .. end_segment - 1
  end_segment: u32,
  first_chunk: u32,    // its first chunk among this step's chunks
  factor: f32,         // Math.fround(1 - s(lr) * weightDecay), computed on the host
}

// Written by the host each step into one slot of the ring.
struct RunTable {
  run_count: u32,
  chunk_count: u32,  // workgroups with work; the grid may hold a few more, which find none
  _pad0: u32,
  _pad1: u32,${stepFields}
  runs: array<Run>,
}

// Per step, bound with a dynamic offset into the ring of run tables.
@group(0) @binding(1) var<storage, read> table: RunTable;

// The element range and factor of workgroup \`chunk\`'s work.
struct Work {
  begin: u32,
  end: u32,
  binding: u32,
  factor: f32,
}
${lookup.wgsl}
fn chunk_index(workgroup: vec3<u32>, grid: vec3<u32>) -> u32 {
  return workgroup.x + workgroup.y * grid.x;
}
`;
}

/**
 * A kernel's entry point: each workgroup finds its chunk's work, and each thread runs
 * `body` for each of its elements `i` of the chunk, with `work` in scope.
 *
 * @param lookup How the workgroup finds its work.
 * @param name The entry point's name.
 * @param body WGSL statements for element `i`.
 * @param prologue WGSL statements run once before the loop: load per-step scalars
 * there, since a load from a storage buffer inside the loop is repeated for every
 * element (the compiler cannot rule out that the loop's stores change it), which made
 * the AdamW kernel 1.3x slower on llvmpipe.
 */
function chunkedEntryPoint(
  lookup: Lookup,
  name: string,
  body: string,
  prologue = "",
): string {
  return /* wgsl */ `
@compute @workgroup_size(WORKGROUP_SIZE)
fn ${name}(
  @builtin(workgroup_id) workgroup: vec3<u32>,
  @builtin(num_workgroups) grid: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let chunk = chunk_index(workgroup, grid);
  ${lookup.guard}
  let work = find_work(chunk);${prologue}
  for (var k = 0u; k < ELEMENTS_PER_THREAD; k++) {
    let i = work.begin + k * WORKGROUP_SIZE + lane;
    if (i < work.end) {${body}}
  }
}
`;
}

/**
 * The arena kernel: one binding, a shard of the arena, read and written as `vec4<f32>`.
 * Segment bounds are in vec4s; a group's range may include the zero padding between its
 * tensors (each tensor starts 256-byte aligned), which stays zero.
 */
export const ARENA_DECAY_WGSL: string = /* wgsl */ `${sharedWgsl(SEARCH_LOOKUP)}
// One shard of the arena: every parameter's values, 256-byte aligned, sorted by group.
@group(0) @binding(2) var<storage, read_write> arena: array<vec4<f32>>;
${
  chunkedEntryPoint(
    SEARCH_LOOKUP,
    "decay",
    " arena[i] = arena[i] * work.factor; ",
  )
}`;

/**
 * The buffers kernel, for caller-owned buffers: `bindings` value bindings read and
 * written as `f32` (a caller's tensor may start at any 4-byte offset), chosen per
 * workgroup by a switch, since WGSL cannot index bindings.
 *
 * @param bindings How many buffers one dispatch binds: the adapter's
 * `maxStorageBuffersPerShaderStage` less the two tables.
 * @returns The WGSL source.
 */
export function buffersDecayWgsl(bindings: number): string {
  const indexes = Array.from({ length: bindings }, (_, b) => b);
  return /* wgsl */ `${sharedWgsl(SEARCH_LOOKUP)}
// Caller-owned buffers (or 256-byte aligned windows of them), bound whole.
${
    indexes.map((b) =>
      `@group(0) @binding(${
        b + 2
      }) var<storage, read_write> values${b}: array<f32>;`
    )
      .join("\n")
  }

fn scale(binding: u32, i: u32, factor: f32) {
  switch (binding) {
${
    indexes.map((b) =>
      `    case ${b}u: { values${b}[i] = values${b}[i] * factor; }`
    ).join("\n")
  }
    default: {}
  }
}
${
    chunkedEntryPoint(
      SEARCH_LOOKUP,
      "decay",
      " scale(work.binding, i, work.factor); ",
    )
  }`;
}

/** Per-step f32 scalars of the AdamW kernel: the fields of its `AdamWScalars` struct. */
export const ADAMW_SCALARS = 8;

/**
 * The AdamW math, one function per value it updates and one for a whole step, in the op order of PyTorch's fused
 * CUDA AdamW (`adam_math` in `aten/src/ATen/native/cuda/fused_adam_utils.cuh`):
 * `m = b1 * m + (1 - b1) * g`, `v = b2 * v + (1 - b2) * g * g`, then
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
 * pass, over four arenas of one layout. Every group has a run each step (weight decay 0
 * still gets the Adam update); the zero padding between tensors stays zero, since a zero
 * gradient keeps zero moments and `0 / eps` moves nothing.
 */
export const ARENA_ADAMW_WGSL: string = /* wgsl */ `${
  sharedWgsl(
    DIRECT_LOOKUP,
    `
  adam: AdamWScalars,`,
  )
}${ADAMW_MATH_WGSL}
// One shard of each arena, all laid out alike: parameters, gradients (written by the
// caller's backward pass, only read here), first and second moments.
@group(0) @binding(2) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> exp_avg: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> exp_avg_sq: array<vec4<f32>>;
${
  chunkedEntryPoint(
    DIRECT_LOOKUP,
    "adamw",
    `
      let next = adamw_step(scalars, work.factor, param[i], grad[i], exp_avg[i], exp_avg_sq[i]);
      param[i] = next.p;
      exp_avg[i] = next.m;
      exp_avg_sq[i] = next.v;
    `,
    `
  let scalars = table.adam;`,
  )
}`;
