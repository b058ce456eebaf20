// GPU timing for the benchmarks.
//
//   timeDispatches(gpu, dispatches, repeats): Promise<number>
//     Milliseconds per run of `dispatches` (recorded in order, as one run). Records one warm-up run
//     and waits, then records the run `repeats` times into ONE compute pass. With timestamp queries
//     (gpu.hasTimestamps) the time is the pass's begin/end timestamps; otherwise it is wall-clock
//     time around submit + onSubmittedWorkDone, so it includes one submit's overhead (~11 ms on
//     llvmpipe): use enough repeats that this is small. Profiles whose `bench.timing` is
//     "wall-clock" (llvmpipe's) always use the wall clock: llvmpipe writes a timestamp when a
//     dispatch is launched, not when it has finished, so its timestamps miss the work under way.
import type { Gpu } from "../gpu/runtime/device.ts";
import { type Dispatch, encode } from "../gpu/runtime/kernel.ts";

export async function timeDispatches(
  gpu: Gpu,
  dispatches: readonly Dispatch[],
  repeats: number,
): Promise<number> {
  const device = gpu.device;
  const run = (times: number, timestampWrites?: GPUComputePassTimestampWrites) => {
    const encoder = device.createCommandEncoder();
    if (timestampWrites) {
      // Bracket the runs with two empty passes: a list with copy steps spans several passes.
      const { querySet, beginningOfPassWriteIndex, endOfPassWriteIndex } = timestampWrites;
      encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex } }).end();
      for (let r = 0; r < times; r++) encode(encoder, dispatches);
      encoder.beginComputePass({ timestampWrites: { querySet, endOfPassWriteIndex } }).end();
      return encoder;
    }
    for (let r = 0; r < times; r++) encode(encoder, dispatches);
    return encoder;
  };
  device.queue.submit([run(1).finish()]);
  await device.queue.onSubmittedWorkDone();

  if (!gpu.hasTimestamps || gpu.profile.bench.timing === "wall-clock") {
    const start = performance.now();
    device.queue.submit([run(repeats).finish()]);
    await device.queue.onSubmittedWorkDone();
    return (performance.now() - start) / repeats;
  }
  const querySet = device.createQuerySet({ type: "timestamp", count: 2 });
  const resolved = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  const staging = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = run(repeats, {
    querySet,
    beginningOfPassWriteIndex: 0,
    endOfPassWriteIndex: 1,
  });
  encoder.resolveQuerySet(querySet, 0, 2, resolved, 0);
  encoder.copyBufferToBuffer(resolved, 0, staging, 0, 16);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const [begin, end] = new BigUint64Array(staging.getMappedRange().slice(0));
  staging.unmap();
  for (const b of [staging, resolved]) b.destroy();
  querySet.destroy();
  return Number(end - begin) / 1e6 / repeats;
}
