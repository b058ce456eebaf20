// Per-kernel times of one run of a dispatch list, from timestamp queries: every dispatch gets its
// own compute pass with beginning/end timestamps, all resolved into one buffer and read back once.
// The figures are the kernels' own times; the gaps between passes (barriers, pass overhead) are not
// in them, so their sum is a little below the step's wall-clock time.
//
//   profileDispatches(gpu, dispatches) -> ms per dispatch, in list order (null without timestamps)
//   profileDispatchesWallClock(gpu, dispatches) -> the same from the wall clock (CPU adapters)
//   kernelTable(dispatches, ms) -> rows aggregated by dispatch name, slowest first
import type { Gpu } from "../gpu/runtime/device.ts";
import { type Dispatch, encode } from "../gpu/runtime/kernel.ts";

/** WebGPU caps a query set at 4096 queries. */
const MAX_QUERIES = 4096;

export async function profileDispatches(
  gpu: Gpu,
  dispatches: readonly Dispatch[],
): Promise<number[] | null> {
  if (!gpu.hasTimestamps) return null;
  const device = gpu.device;
  const queries = 2 * dispatches.length;
  const sets: GPUQuerySet[] = [];
  for (let q = 0; q < queries; q += MAX_QUERIES) {
    sets.push(
      device.createQuerySet({ type: "timestamp", count: Math.min(MAX_QUERIES, queries - q) }),
    );
  }
  const bytes = Math.max(8, queries * 8);
  const resolved = device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  const staging = device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder();
  dispatches.forEach((d, i) => {
    const q = 2 * i;
    const querySet = sets[Math.floor(q / MAX_QUERIES)];
    const begin = q % MAX_QUERIES;
    if (d.copy) {
      // A copy is timed between two empty passes' timestamps.
      encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: begin } })
        .end();
      d.copy(encoder);
      encoder.beginComputePass({ timestampWrites: { querySet, endOfPassWriteIndex: begin + 1 } })
        .end();
      return;
    }
    const pass = encoder.beginComputePass({
      timestampWrites: {
        querySet,
        beginningOfPassWriteIndex: begin,
        endOfPassWriteIndex: begin + 1,
      },
    });
    // An empty launch (zero workgroups) is skipped, as encode() skips it in a real step.
    if (d.workgroups[0] * d.workgroups[1] * d.workgroups[2] > 0) {
      pass.setPipeline(d.pipeline!);
      pass.setBindGroup(0, d.bindGroup!);
      pass.dispatchWorkgroups(...d.workgroups);
    }
    pass.end();
  });
  // Each set resolves at a multiple of 4096 * 8 bytes, so the 256-byte offset rule holds.
  sets.forEach((s, k) => encoder.resolveQuerySet(s, 0, s.count, resolved, k * MAX_QUERIES * 8));
  encoder.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const stamps = new BigUint64Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  resolved.destroy();
  sets.forEach((s) => s.destroy());
  // A begin after its end (a wrapped or unordered counter) reads as 0 rather than as ~584 years.
  return dispatches.map((_, i) => {
    const [begin, end] = [stamps[2 * i], stamps[2 * i + 1]];
    return end > begin ? Number(end - begin) / 1e6 : 0;
  });
}

/**
 * Per-dispatch times for CPU adapters, where timestamps are written when a dispatch is launched:
 * the dispatches of one name (every call of a kernel, in list order) are recorded into a submit of
 * their own, `repeats` times, and waited for; the time of an empty submit (median of 9) is taken
 * off the median of `runs` such submits and the rest shared out among the calls. Timing a kernel's
 * calls together rather than each dispatch in a submit of its own keeps the submit's ~10 ms of
 * jitter out of the figures of small kernels (and there are hundreds of those). Repeated dispatches
 * accumulate into their outputs, so profile a throwaway model.
 */
export async function profileDispatchesWallClock(
  gpu: Gpu,
  dispatches: readonly Dispatch[],
  repeats = 3,
  runs = 3,
): Promise<number[]> {
  const device = gpu.device;
  const timed = async (list: readonly Dispatch[], times: number) => {
    const encoder = device.createCommandEncoder();
    for (let r = 0; r < times; r++) encode(encoder, list);
    const start = performance.now();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - start;
  };
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
  const empty: number[] = [];
  for (let i = 0; i < 9; i++) empty.push(await timed([], 1));
  const overhead = median(empty);
  const groups = new Map<string, number[]>();
  dispatches.forEach((d, i) => groups.set(d.name, [...(groups.get(d.name) ?? []), i]));
  const ms = new Array<number>(dispatches.length).fill(0);
  for (const indices of groups.values()) {
    const list = indices.map((i) => dispatches[i]);
    await timed(list, 1); // llvmpipe compiles on first use
    const times: number[] = [];
    for (let r = 0; r < runs; r++) times.push(await timed(list, repeats));
    const each = Math.max(0, median(times) - overhead) / repeats / indices.length;
    for (const i of indices) ms[i] = each;
  }
  return ms;
}

/** GEMM FLOPs of a dispatch as launched (K padded to the kernel's vec4 included), else null. */
export function dispatchFlops(d: Dispatch): number | null {
  const p = d.params;
  // Direct 3x3 / 1x1 convs on packed textures: channels padded to 4, as launched.
  const conv = /^conv2dDirectTexture(\d)x\d+s\d$/.exec(d.name);
  if (conv && p) {
    const K = Number(conv[1]);
    const batch = p.positions / (p.tilesX * p.tilesY);
    return 2 * p.outC * batch * p.outH * p.outW * 4 * p.C4 * K * K;
  }
  if (!d.name.startsWith("matmul") || !p || p.M === undefined || p.N === undefined) return null;
  // The implicit-GEMM convolutions (matmulTextureTile.im2col*) count their padded channels and
  // the dBias column, as launched.
  const K = p.K ?? (p.K4 === undefined ? undefined : 4 * p.K4);
  if (K === undefined) return null;
  // The z dimension runs batch items x K splits; each split covers 1/splits of K.
  const items = d.workgroups[2] / (p.splits || 1);
  return 2 * p.M * p.N * K * items;
}

export interface KernelRow {
  kernel: string;
  calls: number;
  ms: number;
  /** Of the summed kernel time of the step. */
  share: number;
  /** Achieved GFLOP/s where every call's FLOPs are known (GEMM kernels), else null. */
  gflops: number | null;
  /** GB/s of the bytes bound to its dispatches (each binding counted once per call). */
  gbps: number | null;
}

export function kernelTable(dispatches: readonly Dispatch[], ms: readonly number[]): KernelRow[] {
  const rows = new Map<
    string,
    { calls: number; ms: number; flops: number | null; bytes: number }
  >();
  dispatches.forEach((d, i) => {
    const row = rows.get(d.name) ?? { calls: 0, ms: 0, flops: 0, bytes: 0 };
    const f = dispatchFlops(d);
    row.calls++;
    row.ms += ms[i];
    row.bytes += d.boundBytes;
    row.flops = row.flops === null || f === null ? null : row.flops + f;
    rows.set(d.name, row);
  });
  const total = ms.reduce((a, b) => a + b, 0);
  return [...rows.entries()]
    .map(([kernel, r]) => ({
      kernel,
      calls: r.calls,
      ms: r.ms,
      share: total > 0 ? r.ms / total : 0,
      gflops: r.flops === null || r.ms <= 0 ? null : r.flops / (r.ms * 1e6),
      gbps: r.ms <= 0 ? null : r.bytes / (r.ms * 1e6),
    }))
    .sort((a, b) => b.ms - a.ms);
}
