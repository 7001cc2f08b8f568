// Copyright 2026 the weight-decay authors. MIT license.
/**
 * The WGSL of the fused passes: the one home of the shader code, kept as strings so the
 * package works when imported from JSR (no file reads at run time).
 *
 * Every pass shares one contract with the host:
 *
 * - A *chunk table* is made once per dispatch, like apex's `block_to_tensor` /
 *   `block_to_chunk`: chunk `c` is workgroup `c`'s work, a range of at most
 *   `DECAY_CHUNK_ELEMENTS` (or `ADAMW_CHUNK_ELEMENTS`) values that lies inside one
 *   group and one binding. For decay, groups with weight decay 0 get no chunks: they
 *   cost nothing. AdamW gives every group chunks, since weight decay 0 still gets the
 *   Adam update.
 * - Per step the host computes each group's values (its decay factor
 *   `Math.fround(1 - s(lr * lrScale) * weightDecay)`, and for AdamW its learning rate),
 *   and writes them with one `writeBuffer` into a slot of a ring, bound
 *   with a dynamic offset, so several steps can be recorded before one submit. The slot
 *   starts with the *lap* of the ring it was written in.
 * - Each pass starts with a one-workgroup *gate* dispatch (AdamW's also reduces the
 *   gradient norm). Its own lap comes through a second dynamic offset, into a table
 *   where entry `k` holds `k`; if the slot holds another lap, a later step rewrote the
 *   slot before this one ran: the gate refuses the step and sets a sticky fault, which
 *   the host reports at its next read. Otherwise it sets `run`, and AdamW's advances the
 *   step count `t` (torch's `capturable` semantics: only steps that run count).
 * - Workgroup `c` of an update dispatch (counted across a 2-D grid, so sizes past
 *   65,535 workgroups work) reads its chunk and its group's values once; the inner loop
 *   is a plain `p[i] = p[i] * f` for decay. A decay group whose factor is exactly 1 this
 *   step (lr 0) returns at once.
 *
 * `p * f` is one correctly rounded f32 multiply in WGSL, the same as
 * `Math.fround(p * f)` on the host, so decay results are bit-identical to `CpuDecay`'s.
 * AdamW's `sqrt` and `/` need not be correctly rounded in WGSL, nor need `fma` be
 * fused, so its results agree with `CpuAdamW`'s within a few ULP.
 *
 * WGSL lets a compiler assume every float is finite, so non-finite gradients are found
 * from their bits, never by comparing values.
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
/** Bytes of a step slot's header: its lap, and padding. */
export const STEP_HEADER_BYTES = 16;
/** 32-bit words per group in a decay step slot: its factor. */
export const DECAY_GROUP_WORDS = 1;
/** 32-bit words per group in an AdamW step slot: factor and lr. */
export const ADAMW_GROUP_WORDS = 2;
/** Bytes of the engine state the gate keeps on the GPU. */
export const ENGINE_STATE_BYTES = 32;
/** Word positions in the engine state, as the `EngineState` struct has them. */
export const STATE_STEP = 0;
export const STATE_FAULT = 2;
export const STATE_GRAD_NORM = 3;
export const STATE_NORMED = 5;
/** Bytes of one gradient-norm partial: the f32 bits of a sum of squares, and flags. */
export const PARTIAL_BYTES = 8;
/** Bytes of AdamW's constants before its bias-correction table. */
export const ADAMW_CONFIG_BYTES = 32;
/** Bits of the AdamW config's `flags`. */
export const FLAG_NORM = 1;
export const FLAG_CLIP = 2;
export const FLAG_SKIP = 4;

/** The chunk table and the workgroup numbering every update kernel shares. */
const CHUNKS_WGSL = /* wgsl */ `
// One workgroup's work: a range of one group's values in one binding. Made once.
struct Chunk {
  begin: u32,    // first element (in the arena always c * the chunk size)
  end: u32,      // one past the last element; at most a chunk after begin
  group: u32,    // which group's values of the step
  binding: u32,  // which value binding holds it (0 in the arena kernels)
}

// This dispatch's chunks: the grid may hold a few more workgroups, which find no work.
@group(0) @binding(0) var<storage, read> chunks: array<Chunk>;

fn chunk_index(workgroup: vec3<u32>, grid: vec3<u32>) -> u32 {
  return workgroup.x + workgroup.y * grid.x;
}
`;

/** The step header and the engine state, shared by the gates and the update kernels. */
const STATE_WGSL = /* wgsl */ `
// The start of every step slot.
struct StepHeader {
  lap: u32,  // the lap of the ring the host wrote this slot in
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

// What the engine keeps on the GPU across steps.
struct EngineState {
  step: u32,       // AdamW: steps that ran and were not skipped (torch's state["step"])
  run: u32,        // 1 while the step being executed runs; set by the gate
  fault: u32,      // sticky: 1 once a step found its slot rewritten by a later step
  grad_norm: u32,  // f32 bits of the last executed step's gradient norm
  clip: f32,       // the clip coefficient of the step being executed
  normed: u32,     // steps whose norm was computed
  _pad0: u32,
  _pad1: u32,
}

const FLAG_NAN: u32 = 1u;       // a gradient value is NaN
const FLAG_INFINITE: u32 = 2u;  // a gradient value is infinite, or the squares overflow
const F32_INFINITE: u32 = 0x7f800000u;
const F32_NAN: u32 = 0x7fc00000u;
// Sums of squares from 2^127 up are counted as overflowing, like infinities.
const SQUARES_OVERFLOW: u32 = 0x7f000000u;
`;

/**
 * The lap check of a gate: whether the step may run, with the sticky fault. `slot` and
 * `own_lap` are bound with dynamic offsets, `state` read-write.
 */
const GATE_CHECK_WGSL = /* wgsl */ `
// The header of this step's slot, and this step's own lap (entry k of a table holds k).
@group(0) @binding(0) var<storage, read> slot: StepHeader;
@group(0) @binding(1) var<storage, read> own_lap: u32;
@group(0) @binding(2) var<storage, read_write> state: EngineState;

// False once any step found its slot rewritten: a refused step would make every later
// one run with the wrong step count, so none runs until the host reports the fault.
fn may_run() -> bool {
  if (state.fault != 0u) { return false; }
  if (slot.lap != own_lap) {
    state.fault = 1u;
    return false;
  }
  return true;
}
`;

/** The decay gate: one thread decides whether the step runs. */
export const DECAY_GATE_WGSL: string =
  /* wgsl */ `${STATE_WGSL}${GATE_CHECK_WGSL}
@compute @workgroup_size(1)
fn gate() {
  state.run = select(0u, 1u, may_run());
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
  /** Statements run once per workgroup: they define `limit` (the chunk's end, or `begin` to do nothing), and may return. */
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
    if (i < limit) { ${body} }
  }
}
`;
}

/** The decay kernels' per-step bindings: the slot's factors, and the gate's verdict. */
const DECAY_STEP_WGSL = /* wgsl */ `${STATE_WGSL}
// This step's slot: one factor per group, Math.fround(1 - s(lr * lrScale) * weightDecay).
struct DecayStep {
  header: StepHeader,
  factors: array<f32>,
}
@group(0) @binding(1) var<storage, read> step: DecayStep;
@group(0) @binding(2) var<storage, read> state: EngineState;
`;

/** Groups whose factor is 1 this step, and steps the gate refused, have nothing to do. */
const DECAY_PROLOGUE = `
  let factor = step.factors[chunk.group];
  if (factor == 1.0 || state.run == 0u) { return; }
  let limit = chunk.end;`;

/**
 * The arena decay kernel: one binding, a shard of the arena, read and written as
 * `vec4<f32>`. Chunk bounds are in vec4s; a group's range may include the zero padding
 * between its tensors (each tensor starts 256-byte aligned), which stays zero.
 */
export const ARENA_DECAY_WGSL: string =
  /* wgsl */ `${CHUNKS_WGSL}${DECAY_STEP_WGSL}
// One shard of the arena: every parameter's values, 256-byte aligned, sorted by group.
@group(0) @binding(3) var<storage, read_write> arena: array<vec4<f32>>;
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
 * `maxStorageBuffersPerShaderStage` less the three step bindings.
 * @returns The WGSL source.
 */
export function buffersDecayWgsl(bindings: number): string {
  const indexes = Array.from({ length: bindings }, (_, b) => b);
  const declarations = indexes.map((b) =>
    `@group(0) @binding(${
      b + 3
    }) var<storage, read_write> values${b}: array<f32>;`
  );
  const cases = indexes.map((b) =>
    `    case ${b}u: { values${b}[i] = values${b}[i] * factor; }`
  );
  return /* wgsl */ `${CHUNKS_WGSL}${DECAY_STEP_WGSL}
// Caller-owned buffers (or aligned windows of them), bound whole.
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

/** AdamW's constants, written once: its config, then its table of bias corrections. */
const ADAMW_CONSTANTS_WGSL = /* wgsl */ `
struct AdamWConfig {
  lerp_weight: f32,     // torch's lerp coefficient: 1 - beta1, or -beta1 when that is >= 0.5
  lerp_from_grad: u32,  // 1 when the lerp starts from the gradient (1 - beta1 >= 0.5)
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  max_norm: f32,        // the clipping threshold of the global gradient norm
  flags: u32,           // 1: compute the norm; 2: clip by it; 4: skip non-finite steps
  _pad: u32,
}

// Entry t: (1 / (1 - beta1^t), sqrt(1 - beta2^t)), each computed in f64 on the host and
// rounded once to f32; the last entry holds for every later t (both are 1 by then).
struct AdamWConstants {
  config: AdamWConfig,
  table: array<vec2<f32>>,
}
`;

/** How a workgroup of 256 sums `sums` and ORs `flags` into lane 0's entries. */
const WORKGROUP_REDUCE_WGSL = /* wgsl */ `
var<workgroup> sums: array<f32, ${WORKGROUP_SIZE}>;
var<workgroup> flags: array<u32, ${WORKGROUP_SIZE}>;

fn reduce_workgroup(lane: u32, sum: f32, flag: u32) {
  sums[lane] = sum;
  flags[lane] = flag;
  workgroupBarrier();
  for (var stride = ${
  WORKGROUP_SIZE / 2
}u; stride > 0u; stride = stride >> 1u) {
    if (lane < stride) {
      sums[lane] = sums[lane] + sums[lane + stride];
      flags[lane] = flags[lane] | flags[lane + stride];
    }
    workgroupBarrier();
  }
}

`;

/**
 * AdamW chunks one workgroup of the gradient-norm reduction covers: each lane keeps one
 * partial (8 bytes) of 2 * 4 vec4s, so the partials take a quarter of a byte per value.
 * On llvmpipe 2 ran as fast as one chunk per workgroup, and 4 at 0.52x to 0.83x of it
 * (`deno task bench --only AdamW`, "the gradient-norm reduction alone").
 */
export const REDUCE_CHUNKS = 2;
/** Partials each thread of the fold adds up. */
export const FOLD_PARTIALS = 64;

/** The per-element work of the reduction: squares summed, NaN and infinities flagged. */
const SQUARES_WGSL = /* wgsl */ `
struct Squares {
  sum: f32,
  flag: u32,
}

fn add_squares(acc: Squares, bits: vec4<u32>) -> Squares {
  let special = (bits & vec4(F32_INFINITE)) == vec4(F32_INFINITE);
  let fraction = (bits & vec4(0x007fffffu)) != vec4(0u);
  var flag = acc.flag;
  if (any(special & fraction)) { flag = flag | FLAG_NAN; }
  if (any(special & !fraction)) { flag = flag | FLAG_INFINITE; }
  let finite = select(bitcast<vec4<f32>>(bits), vec4(0.0), special);
  return Squares(acc.sum + dot(finite, finite), flag);
}

fn overflow_flag(sum: f32) -> u32 {
  return select(0u, FLAG_INFINITE, (bitcast<u32>(sum) & 0x7fffffffu) >= SQUARES_OVERFLOW);
}
`;

/**
 * The gradient-norm reduction of AdamW's `maxGradNorm` and `skipNonFinite`, first
 * level: workgroup `w` of one gradient shard's dispatch covers its chunks
 * `REDUCE_CHUNKS * w` on, and each lane sums the squares of its values, notes NaN and
 * infinities (from the bits), and writes its own partial. No workgroup memory and no
 * barrier: on llvmpipe a tree reduction in workgroup memory cost about 20 times the
 * loads themselves. As in the update kernels, each chunk's start comes from the
 * workgroup id, so the lanes' loads are known to be contiguous.
 */
export const GRAD_NORM_REDUCE_WGSL: string =
  /* wgsl */ `${CHUNKS_WGSL}${STATE_WGSL}${SQUARES_WGSL}
@group(0) @binding(1) var<storage, read> grad: array<vec4<u32>>;
// One entry per lane of each workgroup: (f32 bits of its sum of squares, flags).
@group(0) @binding(2) var<storage, read_write> partials: array<vec2<u32>>;

@compute @workgroup_size(${WORKGROUP_SIZE})
fn reduce(
  @builtin(workgroup_id) workgroup: vec3<u32>,
  @builtin(num_workgroups) grid: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let w = chunk_index(workgroup, grid);
  let count = arrayLength(&chunks);
  var acc = Squares(0.0, 0u);
  for (var j = 0u; j < ${REDUCE_CHUNKS}u; j++) {
    let c = w * ${REDUCE_CHUNKS}u + j;
    let end = chunks[min(c, count - 1u)].end;
    let begin = c * ${ADAMW_CHUNK_ELEMENTS}u;
    for (var k = 0u; k < ${ADAMW_CHUNK_ELEMENTS / WORKGROUP_SIZE}u; k++) {
      let i = begin + k * ${WORKGROUP_SIZE}u + lane;
      if (i < end) { acc = add_squares(acc, grad[i]); }
    }
  }
  let at = w * ${WORKGROUP_SIZE}u + lane;
  if (at < arrayLength(&partials)) {
    partials[at] = vec2(bitcast<u32>(acc.sum), acc.flag | overflow_flag(acc.sum));
  }
}
`;

/**
 * The second level: each thread adds up `FOLD_PARTIALS` consecutive partials of every
 * shard, again without barriers, into one entry the gate reads.
 */
export const GRAD_NORM_FOLD_WGSL: string =
  /* wgsl */ `${STATE_WGSL}${SQUARES_WGSL}
@group(0) @binding(0) var<storage, read> partials: array<vec2<u32>>;
@group(0) @binding(1) var<storage, read_write> folded: array<vec2<u32>>;

@compute @workgroup_size(${WORKGROUP_SIZE})
fn fold(@builtin(global_invocation_id) id: vec3<u32>) {
  let t = id.x;
  if (t >= arrayLength(&folded)) { return; }
  let begin = t * ${FOLD_PARTIALS}u;
  let end = min(begin + ${FOLD_PARTIALS}u, arrayLength(&partials));
  var sum = 0.0;
  var flag = 0u;
  for (var i = begin; i < end; i++) {
    let partial = partials[i];
    sum = sum + bitcast<f32>(partial.x);
    flag = flag | partial.y;
  }
  folded[t] = vec2(bitcast<u32>(sum), flag | overflow_flag(sum));
}
`;

/**
 * The AdamW gate: sums the folded partials into the global gradient norm (when
 * configured, in one workgroup: the only barriers of the reduction), then decides
 * whether the step runs, its clip coefficient, and advances `t`.
 */
export const ADAMW_GATE_WGSL: string =
  /* wgsl */ `${STATE_WGSL}${GATE_CHECK_WGSL}${ADAMW_CONSTANTS_WGSL}${WORKGROUP_REDUCE_WGSL}${SQUARES_WGSL}
@group(0) @binding(3) var<storage, read> constants: AdamWConstants;
// The folded partials of every shard (a single zero entry without a norm).
@group(0) @binding(4) var<storage, read> partials: array<vec2<u32>>;

@compute @workgroup_size(${WORKGROUP_SIZE})
fn gate(@builtin(local_invocation_index) lane: u32) {
  var sum = 0.0;
  var flag = 0u;
  for (var i = lane; i < arrayLength(&partials); i = i + ${WORKGROUP_SIZE}u) {
    let partial = partials[i];
    sum = sum + bitcast<f32>(partial.x);
    flag = flag | partial.y;
  }
  reduce_workgroup(lane, sum, flag);
  if (lane == 0u) { decide(sums[0], flags[0] | overflow_flag(sums[0])); }
}

fn decide(total: f32, found: u32) {
  let config = constants.config;
  var run = may_run();
  var clip = 1.0;
  if (run && (config.flags & ${FLAG_NORM}u) != 0u) {
    let norm = sqrt(total);
    var norm_bits = bitcast<u32>(norm);
    if ((found & FLAG_NAN) != 0u) {
      norm_bits = F32_NAN;
    } else if (found != 0u) {
      norm_bits = F32_INFINITE;
    }
    state.grad_norm = norm_bits;
    state.normed = state.normed + 1u;
    if (found == 0u && (config.flags & ${FLAG_CLIP}u) != 0u) {
      // As PyTorch: max_norm / (norm + 1e-6) is a reciprocal, then a multiply.
      clip = min(1.0, (1.0 / (norm + 1e-6)) * config.max_norm);
    }
    if (found != 0u && (config.flags & ${FLAG_SKIP}u) != 0u) { run = false; }
  }
  state.clip = clip;
  if (run) { state.step = state.step + 1u; }
  state.run = select(0u, 1u, run);
}
`;

/**
 * The AdamW math of one vec4 of values, in the op order of `torch.optim.AdamW`'s
 * default path on a CPU with AVX2 or AVX-512: `param.mul_(1 - lr * wd)`, then
 * `exp_avg.lerp_(grad, 1 - beta1)` (one fused multiply-add),
 * `exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)` (likewise), then
 * `param.addcdiv_(exp_avg, sqrt(exp_avg_sq) / sqrt(1 - beta2^t) + eps, value=-step_size)`.
 * Kept apart from the arena kernel so that benchmark baselines compute exactly the
 * same thing.
 */
export const ADAMW_MATH_WGSL: string = /* wgsl */ `${ADAMW_CONSTANTS_WGSL}
// A parameter and both its moments after one step.
struct AdamWValues {
  p: vec4<f32>,
  m: vec4<f32>,
  v: vec4<f32>,
}

// One step of four values with gradient g: decay by the group's factor, then Adam with
// the step size lr / (1 - beta1^t) and bias correction sqrt(1 - beta2^t).
fn adamw_step(config: AdamWConfig, factor: f32, step_size: f32, bias_correction2_sqrt: f32,
              p: vec4<f32>, g: vec4<f32>, m: vec4<f32>, v: vec4<f32>) -> AdamWValues {
  let m_next = fma(vec4(config.lerp_weight), g - m, select(m, g, config.lerp_from_grad != 0u));
  let v_next = fma(config.one_minus_beta2 * g, g, config.beta2 * v);
  let denom = sqrt(v_next) / bias_correction2_sqrt + config.eps;
  return AdamWValues(p * factor + (-step_size * m_next) / denom, m_next, v_next);
}
`;

/**
 * The arena AdamW kernel: decoupled decay and the Adam update of every element in one
 * pass, over four arenas of one layout. Every group has chunks (weight decay 0 still
 * gets the Adam update); the zero padding between tensors stays zero, since a zero
 * gradient keeps zero moments and `0 / eps` moves nothing.
 */
export const ARENA_ADAMW_WGSL: string =
  /* wgsl */ `${CHUNKS_WGSL}${STATE_WGSL}${ADAMW_MATH_WGSL}
// One group's values of a step: its decay factor and its learning rate lr * lrScale,
// each computed in f64 on the host and rounded once to f32.
struct GroupStep {
  factor: f32,
  lr: f32,
}
struct AdamWStep {
  header: StepHeader,
  groups: array<GroupStep>,
}
@group(0) @binding(1) var<storage, read> step: AdamWStep;
@group(0) @binding(2) var<storage, read> state: EngineState;
@group(0) @binding(3) var<storage, read> constants: AdamWConstants;

// One shard of each arena, all laid out alike: parameters, gradients (written by the
// caller's backward pass, only read here), first and second moments.
@group(0) @binding(4) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> exp_avg: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> exp_avg_sq: array<vec4<f32>>;
${
    chunkedEntryPoint({
      name: "adamw",
      chunkElements: ADAMW_CHUNK_ELEMENTS,
      start: "index",
      prologue: `
  let config = constants.config;
  let t = state.step;
  let corrections = constants.table[min(t, arrayLength(&constants.table) - 1u)];
  let group = step.groups[chunk.group];
  // The step count is the GPU's, so the step size is computed here, as CpuAdamW does.
  let step_size = group.lr * corrections.x;
  let clip = state.clip;
  let limit = select(begin, chunk.end, state.run != 0u);`,
      body: `
      let next = adamw_step(config, group.factor, step_size, corrections.y,
                            param[i], grad[i] * clip, exp_avg[i], exp_avg_sq[i]);
      param[i] = next.p;
      exp_avg[i] = next.m;
      exp_avg_sq[i] = next.v;
    `,
    })
  }`;
