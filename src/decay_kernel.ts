// Copyright 2026 the weight-decay authors. MIT license.
/**
 * The WGSL of the fused decay pass: the one home of the shader code, kept as strings so
 * the package works when imported from JSR (no file reads at run time).
 *
 * Both kernels share one contract with the host:
 *
 * - A *chunk table* is made once per dispatch, like apex's `block_to_tensor` /
 *   `block_to_chunk`: chunk `c` is workgroup `c`'s work, a range of at most
 *   `CHUNK_ELEMENTS` values that lies inside one group and one binding. Groups with
 *   weight decay 0 get no chunks: they cost nothing.
 * - Per step the host computes one factor per group,
 *   `Math.fround(1 - s(lr) * weightDecay)`, and writes them with one `writeBuffer` into a
 *   slot of a ring, bound with a dynamic offset, so several steps can be recorded before
 *   one submit.
 * - Workgroup `c` (counted across a 2-D grid, so sizes past 65,535 workgroups work) reads
 *   its chunk and its group's factor once; the inner loop is a plain `p[i] = p[i] * f`.
 *   A group whose factor is exactly 1 this step (lr 0) returns at once.
 *
 * `p * f` is one correctly rounded f32 multiply in WGSL, the same as
 * `Math.fround(p * f)` on the host, so results are bit-identical to `CpuDecay`'s.
 *
 * @module
 */

/** Threads per workgroup. */
export const WORKGROUP_SIZE = 256;
/**
 * Elements each thread scales (vec4s in the arena kernel, f32s otherwise). More per
 * thread amortises the chunk lookup; fewer gives small models more workgroups to spread
 * over a GPU's cores. Measured on llvmpipe over a ResNet-50 against a plain one-buffer
 * scale kernel: 4 per thread ran at about 0.87x, 8 and 16 at about 0.95x.
 */
export const ELEMENTS_PER_THREAD = 8;
/** Elements per chunk: one workgroup's work. */
export const CHUNK_ELEMENTS: number = WORKGROUP_SIZE * ELEMENTS_PER_THREAD;
/** Bytes of one chunk table entry. */
export const CHUNK_BYTES = 16;

/** Declarations shared by both kernels. */
const SHARED_WGSL = /* wgsl */ `
const WORKGROUP_SIZE: u32 = ${WORKGROUP_SIZE}u;
const ELEMENTS_PER_THREAD: u32 = ${ELEMENTS_PER_THREAD}u;

// One workgroup's work: a range of one group's values in one binding. Made once.
struct Chunk {
  begin: u32,    // first element
  end: u32,      // one past the last element; end - begin <= WORKGROUP_SIZE * ELEMENTS_PER_THREAD
  group: u32,    // index into factors
  binding: u32,  // which value binding holds it (0 in the arena kernel)
}

// This dispatch's chunks: the grid may hold a few more workgroups, which return.
@group(0) @binding(0) var<storage, read> chunks: array<Chunk>;
// One factor per group, Math.fround(1 - s(lr) * weightDecay) from the host; bound with
// a dynamic offset into the ring of per-step slots.
@group(0) @binding(1) var<storage, read> factors: array<f32>;

fn chunk_index(workgroup: vec3<u32>, grid: vec3<u32>) -> u32 {
  return workgroup.x + workgroup.y * grid.x;
}
`;

/**
 * The arena kernel: one binding, a shard of the arena, read and written as `vec4<f32>`.
 * Chunk bounds are in vec4s; a group's range may include the zero padding between its
 * tensors (each tensor starts 256-byte aligned), which stays zero.
 */
export const ARENA_DECAY_WGSL: string = /* wgsl */ `${SHARED_WGSL}
// One shard of the arena: every parameter's values, 256-byte aligned, sorted by group.
@group(0) @binding(2) var<storage, read_write> arena: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn decay(
  @builtin(workgroup_id) workgroup: vec3<u32>,
  @builtin(num_workgroups) grid: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let c = chunk_index(workgroup, grid);
  if (c >= arrayLength(&chunks)) { return; }
  let chunk = chunks[c];
  let factor = factors[chunk.group];
  if (factor == 1.0) { return; }
  for (var k = 0u; k < ELEMENTS_PER_THREAD; k++) {
    let i = chunk.begin + k * WORKGROUP_SIZE + lane;
    if (i < chunk.end) { arena[i] = arena[i] * factor; }
  }
}
`;

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
  return /* wgsl */ `${SHARED_WGSL}
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

@compute @workgroup_size(WORKGROUP_SIZE)
fn decay(
  @builtin(workgroup_id) workgroup: vec3<u32>,
  @builtin(num_workgroups) grid: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let c = chunk_index(workgroup, grid);
  if (c >= arrayLength(&chunks)) { return; }
  let chunk = chunks[c];
  let factor = factors[chunk.group];
  if (factor == 1.0) { return; }
  for (var k = 0u; k < ELEMENTS_PER_THREAD; k++) {
    let i = chunk.begin + k * WORKGROUP_SIZE + lane;
    if (i < chunk.end) { scale(chunk.binding, i, factor); }
  }
}
`;
}
