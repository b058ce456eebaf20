// Batch assembly from a GPU-resident uint8 dataset: the training loop uploads only B indices per
// step. Images are stored HWC as the sprite files are, 4 bytes per u32 (WGSL has no u8 arrays).
import type { Gpu } from "../runtime/device.ts";
import { createDispatch, type Dispatch, grid1d, type KernelSpec } from "../runtime/kernel.ts";
import { type Tensor, tensorFrom } from "../runtime/tensor.ts";

const WG = 64;

/** Packs `count` uint8 HWC images little-endian, 4 per u32, into one GPU tensor. */
export function uploadDataset(
  gpu: Gpu,
  bytes: Uint8Array,
  count: number,
  height: number,
  width: number,
  channels: number,
): Tensor {
  const total = count * height * width * channels;
  if (bytes.length < total) {
    throw new Error(`uploadDataset: ${bytes.length} bytes for ${count} images of ${total / count}`);
  }
  const words = new Uint32Array(Math.max(1, Math.ceil(total / 4)));
  new Uint8Array(words.buffer).set(bytes.subarray(0, total));
  // Byte order inside a word: WebGPU buffers are little-endian, as is every host Deno runs on.
  return tensorFrom(gpu, words, [words.length], "dataset");
}

const gatherKernel: KernelSpec = {
  name: "gatherBatch",
  params: { n: "u32", channels: "u32", spatial: "u32", imageBytes: "u32" },
  bindings: { dataset: "read array<u32>", indices: "read array<u32>", out: "write" },
  consts: { WG },
  code: /* wgsl */ `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  // out index i = (b * C + c) * HW + s; source byte = image * H*W*C + s * C + c.
  let s = i % p.spatial;
  let c = (i / p.spatial) % p.channels;
  let b = i / (p.spatial * p.channels);
  let byte = indices[b] * p.imageBytes + s * p.channels + c;
  let value = (dataset[byte >> 2u] >> ((byte & 3u) * 8u)) & 0xffu;
  out[i] = f32(value) / 255.0 * 2.0 - 1.0;
}`,
};

/** out [B, C, H, W] f32 = dataset[indices[b]] (HWC uint8) / 255 * 2 - 1. */
export function gatherBatch(
  gpu: Gpu,
  { dataset, indices, out, batch, height, width, channels }: {
    dataset: Tensor;
    indices: Tensor;
    out: Tensor;
    batch: number;
    height: number;
    width: number;
    channels: number;
  },
): Promise<Dispatch> {
  const spatial = height * width;
  if (out.size !== batch * channels * spatial) {
    throw new Error(`gatherBatch: out is not [${batch}, ${channels}, ${height}, ${width}]`);
  }
  if (indices.size < batch) throw new Error(`gatherBatch: fewer than ${batch} indices`);
  return createDispatch(gpu, gatherKernel, { dataset, indices, out }, grid1d(out.size, WG), {
    n: out.size,
    channels,
    spatial,
    imageBytes: spatial * channels,
  });
}
