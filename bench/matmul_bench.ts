// GEMM throughput at the model's shapes (batch 32). Run directly:
//   XDG_RUNTIME_DIR=/tmp deno run -A bench/matmul_bench.ts
import { adapterLine, getGpu, type Gpu } from "../gpu/runtime/device.ts";
import { matmul, type MatmulArgs } from "../gpu/ops/matmul/matmul.ts";
import { createTensor, destroyTensor, fill } from "../gpu/runtime/tensor.ts";
import { timeDispatches } from "./timing.ts";

type Shape = Omit<MatmulArgs, "a" | "b" | "c" | "bias">;

// Tokens at the 4x4 attention level: 32 images x 16 positions = 512 rows.
const shapes: { name: string; shape: Shape }[] = [
  { name: "attention projection", shape: { M: 512, N: 256, K: 256, transB: true } },
  { name: "GEGLU in", shape: { M: 512, N: 2048, K: 256, transB: true } },
  { name: "GEGLU out", shape: { M: 512, N: 256, K: 1024, transB: true } },
  // 1x1 conv as GEMM per image: W [out, in] x X [in, H*W], batch 32, W broadcast.
  { name: "1x1 conv 8x8", shape: { M: 128, N: 64, K: 256, batch: 32, strideA: 0 } },
  { name: "1x1 conv 16x16", shape: { M: 64, N: 256, K: 128, batch: 32, strideA: 0 } },
  // Weight gradient dW = dY^T X of a 3x3 conv (implicit GEMM): [576, 8192]^T-style long K.
  { name: "weight gradient", shape: { M: 576, N: 64, K: 8192, transA: true } },
];

export async function benchMatmul(
  gpu: Gpu,
): Promise<{ name: string; shape: string; ms: number; gflops: number }[]> {
  const results = [];
  for (const { name, shape } of shapes) {
    const { M, N, K } = shape;
    const batch = shape.batch ?? 1;
    const a = createTensor(gpu, [shape.strideA === 0 ? M * K : batch * M * K]);
    const b = createTensor(gpu, [batch * K * N]);
    const c = createTensor(gpu, [batch * M * N]);
    fill(gpu, a, 0.5);
    fill(gpu, b, 0.25);
    const dispatches = await matmul(gpu, { ...shape, a, b, c });
    const flops = 2 * M * N * K * batch;
    // About 0.3 s of work per shape at the profile's expected speed, at least 2 runs.
    const repeats = Math.max(2, Math.round(0.3e9 * gpu.profile.bench.matmulGflops / flops));
    const ms = await timeDispatches(gpu, dispatches, repeats);
    results.push({
      name,
      shape: `M=${M} N=${N} K=${K}${batch > 1 ? ` batch=${batch}` : ""}` +
        `${shape.transA ? " A^T" : ""}${
          shape.transB ? " B^T" : ""
        } (${dispatches.length} dispatch)`,
      ms,
      gflops: flops / ms / 1e6,
    });
    for (const t of [a, b, c]) destroyTensor(t);
  }
  return results;
}

if (import.meta.main) {
  const gpu = await getGpu();
  console.log(adapterLine(gpu));
  for (const r of await benchMatmul(gpu)) {
    console.log(
      `${r.name.padEnd(22)} ${r.shape.padEnd(46)} ${r.ms.toFixed(2).padStart(9)} ms ` +
        `${r.gflops.toFixed(1).padStart(7)} GFLOP/s`,
    );
  }
}
