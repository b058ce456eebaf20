// conv2d throughput at the real model's shapes, batch 32: forward, input gradient, weight gradient.
import process from "node:process";
import type { Gpu } from "../gpu/runtime/device.ts";
import {
  conv2dBackward,
  conv2dForward,
  conv2dGeometry,
  type Conv2dShape,
} from "../gpu/ops/conv2d/conv2d.ts";
import { createTensor, destroyTensor, fill, type Tensor } from "../gpu/runtime/tensor.ts";
import { timeDispatches } from "./timing.ts";

const BATCH = 32;
const REPEATS = 3;
const shapes: Conv2dShape[] = [
  { batch: BATCH, inChannels: 64, outChannels: 64, height: 16, width: 16, kernel: 3, stride: 1 },
  { batch: BATCH, inChannels: 128, outChannels: 128, height: 8, width: 8, kernel: 3, stride: 1 },
  { batch: BATCH, inChannels: 256, outChannels: 256, height: 4, width: 4, kernel: 3, stride: 1 },
  { batch: BATCH, inChannels: 512, outChannels: 256, height: 4, width: 4, kernel: 3, stride: 1 },
  { batch: BATCH, inChannels: 64, outChannels: 64, height: 16, width: 16, kernel: 3, stride: 2 },
  { batch: BATCH, inChannels: 128, outChannels: 64, height: 16, width: 16, kernel: 1, stride: 1 },
];

/**
 * The kernels of `gpu.profile`: pass `withProfile(gpu, DISCRETE_GPU)` to time the buffer technique
 * on llvmpipe against its own texture one.
 */
export async function benchConv2d(
  gpu: Gpu,
): Promise<{ name: string; shape: string; ms: number; gflops: number; cpuGflops: number }[]> {
  const rows = [];
  for (const shape of shapes) {
    const g = conv2dGeometry(shape);
    const k = g.kernel;
    const tensor = (dims: number[]) => {
      const t = createTensor(gpu, dims, "f32", "bench");
      fill(gpu, t, 0.01);
      return t;
    };
    const x = tensor([g.batch, g.inChannels, g.height, g.width]);
    const weight = tensor([g.outChannels, g.inChannels, k, k]);
    const bias = tensor([g.outChannels]);
    const y = tensor([g.batch, g.outChannels, g.outHeight, g.outWidth]);
    const dx = tensor(x.shape);
    const dWeight = tensor(weight.shape);
    const made: Tensor[] = [x, weight, bias, y, dx, dWeight];
    const forward = await conv2dForward(gpu, { x, weight, bias, y, shape });
    const both = await conv2dBackward(gpu, { x, weight, dy: y, dx, dWeight, shape });
    const weightGrad = await conv2dBackward(gpu, { x, weight, dy: y, dWeight, shape });
    // conv2dBackward returns the input gradient's dispatches first.
    const inputGrad = both.slice(0, both.length - weightGrad.length);
    const flops = 2 * g.batch * g.outChannels * g.outHeight * g.outWidth * g.inChannels * k * k;
    const label = `${g.batch}x${g.inChannels}x${g.height}x${g.width} -> ${g.outChannels}` +
      ` k${k}s${g.stride}`;
    for (
      const [name, dispatches] of [
        ["conv2d forward", forward],
        ["conv2d backward input", inputGrad],
        ["conv2d backward weight", weightGrad],
      ] as const
    ) {
      // Process CPU time over both cores (llvmpipe's threads run in this process): on a loaded
      // machine wall-clock time says more about the other processes than about the kernels.
      await timeDispatches(gpu, dispatches, 1); // llvmpipe compiles on first use
      const before = process.cpuUsage();
      const ms = await timeDispatches(gpu, dispatches, REPEATS);
      const used = process.cpuUsage(before);
      const cpuMs = (used.user + used.system) / 1e3 / (REPEATS + 1) / navigator.hardwareConcurrency;
      rows.push({
        name,
        shape: label,
        ms,
        gflops: flops / (ms * 1e6),
        cpuGflops: flops / (cpuMs * 1e6),
      });
    }
    made.forEach(destroyTensor);
  }
  return rows;
}
