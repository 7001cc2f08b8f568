// Copyright 2026 the weight-decay authors. MIT license.
// What the fused decay step is measured against, on the same device and the same bytes:
// the simplest scale kernel over one buffer, and one dispatch per tensor.

/** The simplest possible scale kernel: one vec4 per thread, the factor in a uniform. */
const SCALE_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> values: array<vec4<f32>>;
@group(0) @binding(1) var<uniform> factor: vec4<f32>;

@compute @workgroup_size(256)
fn scale(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>) {
  let i = id.x + id.y * grid.x * 256u;
  if (i < arrayLength(&values)) { values[i] = values[i] * factor.x; }
}
`;

/** Work a benchmark runs K times before one wait for the GPU. */
export interface GpuWork {
  /** Records and submits one step. */
  step(): void;
  /** Frees what it made. */
  destroy(): void;
}

const pipelines = new WeakMap<GPUDevice, GPUComputePipeline>();

function scalePipeline(device: GPUDevice): GPUComputePipeline {
  let pipeline = pipelines.get(device);
  if (pipeline === undefined) {
    pipeline = device.createComputePipeline({
      label: "bench scale pipeline",
      layout: "auto",
      compute: {
        module: device.createShaderModule({
          label: "bench scale shader",
          code: SCALE_WGSL,
        }),
        entryPoint: "scale",
      },
    });
    pipelines.set(device, pipeline);
  }
  return pipeline;
}

/** Buffers of `sizes` floats each (rounded up to vec4), with a bind group per buffer made once. */
function scaled(device: GPUDevice, sizes: readonly number[], label: string) {
  const pipeline = scalePipeline(device);
  const factor = device.createBuffer({
    label: `${label} factor`,
    size: 16,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(factor, 0, new Float32Array([0.999, 0, 0, 0]));
  const buffers = sizes.map((size, i) =>
    device.createBuffer({
      label: `${label} ${i}`,
      size: Math.max(16, Math.ceil(size / 4) * 16),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
        GPUBufferUsage.COPY_DST,
    })
  );
  const dispatches = buffers.map((buffer) => {
    const bindGroup = device.createBindGroup({
      label: `${label} bind group`,
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer } }, {
        binding: 1,
        resource: { buffer: factor },
      }],
    });
    const workgroups = Math.ceil(buffer.size / 16 / 256);
    const y = Math.ceil(
      workgroups / device.limits.maxComputeWorkgroupsPerDimension,
    );
    return { bindGroup, x: Math.ceil(workgroups / y), y };
  });
  return {
    step() {
      const encoder = device.createCommandEncoder({ label: `${label} step` });
      const pass = encoder.beginComputePass({ label: `${label} pass` });
      pass.setPipeline(pipeline);
      for (const { bindGroup, x, y } of dispatches) {
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(x, y);
      }
      pass.end();
      device.queue.submit([encoder.finish()]);
    },
    destroy() {
      for (const buffer of buffers) buffer.destroy();
      factor.destroy();
    },
  };
}

/**
 * The single-buffer limit: the simplest scale kernel over one buffer holding all `floats`
 * values, split into buffers of at most `maxBindingBytes` (one dispatch each) when one
 * binding cannot hold them.
 */
export function singleBufferScale(device: GPUDevice, floats: number): GpuWork {
  const perBuffer = Math.floor(device.limits.maxStorageBufferBindingSize / 16) *
    4;
  const sizes: number[] = [];
  for (let left = floats; left > 0; left -= perBuffer) {
    sizes.push(Math.min(left, perBuffer));
  }
  return scaled(device, sizes, "bench single buffer");
}

/** The unfused baseline: one buffer and one dispatch per tensor, all in one pass. */
export function perTensorScale(
  device: GPUDevice,
  sizes: readonly number[],
): GpuWork {
  return scaled(device, sizes, "bench per-tensor");
}
