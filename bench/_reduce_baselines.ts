// Copyright 2026 the weight-decay authors. MIT license.
// GpuAdamW's gradient-norm reduction alone (its first level: one workgroup per
// REDUCE_CHUNKS chunks, each lane writing its own partial), and what it is measured
// against: the same loads, flags and sums with one workgroup per chunk.

import {
  ADAMW_CHUNK_ELEMENTS,
  GRAD_NORM_REDUCE_WGSL,
  PARTIAL_BYTES,
  REDUCE_CHUNKS,
  WORKGROUP_SIZE,
} from "../src/decay_kernel.ts";

/** The reduction's per-element work as the engine's kernel does it, per lane. */
const PER_LANE_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> grad: array<vec4<u32>>;
// One entry per lane of every workgroup: (f32 bits of its sum of squares, flags).
@group(0) @binding(1) var<storage, read_write> partials: array<vec2<u32>>;

@compute @workgroup_size(${WORKGROUP_SIZE})
fn reduce(
  @builtin(workgroup_id) workgroup: vec3<u32>,
  @builtin(num_workgroups) grid: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let c = workgroup.x + workgroup.y * grid.x;
  let begin = c * ${ADAMW_CHUNK_ELEMENTS}u;
  var sum = 0.0;
  var flag = 0u;
  for (var k = 0u; k < ${ADAMW_CHUNK_ELEMENTS / WORKGROUP_SIZE}u; k++) {
    let i = begin + k * ${WORKGROUP_SIZE}u + lane;
    if (i < arrayLength(&grad)) {
      let bits = grad[i];
      let special = (bits & vec4(0x7f800000u)) == vec4(0x7f800000u);
      let fraction = (bits & vec4(0x007fffffu)) != vec4(0u);
      if (any(special & fraction)) { flag = flag | 1u; }
      if (any(special & !fraction)) { flag = flag | 2u; }
      let finite = select(bitcast<vec4<f32>>(bits), vec4(0.0), special);
      sum = sum + dot(finite, finite);
    }
  }
  let at = c * ${WORKGROUP_SIZE}u + lane;
  if (at < arrayLength(&partials)) { partials[at] = vec2(bitcast<u32>(sum), flag); }
}
`;

/** One reduction kernel over one gradient buffer, submitted as one pass per step. */
export interface Reduction {
  readonly step: () => void;
}

/**
 * The engine's reduction kernel (`GRAD_NORM_REDUCE_WGSL`) and the per-lane one, over
 * the same gradients: `floats` values, one workgroup per AdamW chunk.
 *
 * @param device The device.
 * @param floats How many gradient values; a multiple of 4.
 * @returns Both reductions.
 */
export function reductions(
  device: GPUDevice,
  floats: number,
): { engine: Reduction; perLane: Reduction; destroy(): void } {
  const vec4s = floats / 4;
  const chunks = Math.ceil(vec4s / ADAMW_CHUNK_ELEMENTS);
  const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const grad = device.createBuffer({
    label: "bench reduce gradients",
    size: floats * 4,
    usage: storage,
  });
  // The engine's direct chunk table: chunk c starts at element c * ADAMW_CHUNK_ELEMENTS.
  const table = new Uint32Array(chunks * 4);
  for (let c = 0; c < chunks; c++) {
    table.set([
      c * ADAMW_CHUNK_ELEMENTS,
      Math.min(vec4s, (c + 1) * ADAMW_CHUNK_ELEMENTS),
    ], c * 4);
  }
  const chunkTable = device.createBuffer({
    label: "bench reduce chunks",
    size: table.byteLength,
    usage: storage,
  });
  device.queue.writeBuffer(chunkTable, 0, table);
  const partials = device.createBuffer({
    label: "bench reduce partials",
    size: chunks * WORKGROUP_SIZE * PARTIAL_BYTES,
    usage: GPUBufferUsage.STORAGE,
  });
  const made = [grad, chunkTable, partials];
  const reduction = (
    label: string,
    code: string,
    buffers: readonly GPUBuffer[],
    workgroups: number,
  ): Reduction => {
    const pipeline = device.createComputePipeline({
      label,
      layout: "auto",
      compute: {
        module: device.createShaderModule({ label, code }),
        entryPoint: "reduce",
      },
    });
    const bindGroup = device.createBindGroup({
      label,
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({
        binding,
        resource: { buffer },
      })),
    });
    const y = Math.ceil(
      workgroups / device.limits.maxComputeWorkgroupsPerDimension,
    );
    return {
      step() {
        const encoder = device.createCommandEncoder({ label });
        const pass = encoder.beginComputePass({ label });
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(Math.ceil(workgroups / y), y);
        pass.end();
        device.queue.submit([encoder.finish()]);
      },
    };
  };
  return {
    // The engine's first level: one workgroup per REDUCE_CHUNKS chunks.
    engine: reduction(
      "bench engine reduce",
      GRAD_NORM_REDUCE_WGSL,
      [chunkTable, grad, partials],
      Math.ceil(chunks / REDUCE_CHUNKS),
    ),
    perLane: reduction(
      "bench per-lane reduce",
      PER_LANE_WGSL,
      [grad, partials],
      chunks,
    ),
    destroy: () => made.forEach((buffer) => buffer.destroy()),
  };
}
