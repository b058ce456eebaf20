// The adapter's FMA ceiling, measured: a register-only kernel (no memory traffic in its loop) whose
// GFLOP/s is what the adapter's arithmetic gives when nothing else is in the way. Every row of the
// bench is reported as a share of it.
//
// Two shapes, each at workgroup sizes 8, 16 and 64:
// - "independent": 8 independent vec4 accumulators per invocation, one fma() each per iteration,
//   4,096 iterations (the issue's probe);
// - "chained": the same 8 accumulators, 8 fma()s in a row on each per iteration, 512 iterations
//   (the same FLOPs).
// llvmpipe (Mesa 22.3) lowers fma() to a multiply and an add (gallivm's nir options set
// lower_ffma32), and it runs a loop under an execution mask: every variable the loop carries is
// blended with the mask once per iteration (a vblendvps, 3 uops on these Xeons), whatever the
// trip count. One fma() per accumulator per iteration therefore pays a blend per 2 arithmetic
// ops; eight in a row pay one per 16. The chained probe is the ceiling the kernels can reach
// (their loops carry accumulators that take a run of FMAs each); the independent one shows what a
// loop that carries its accumulators one FMA at a time gets.
import process from "node:process";
import type { Gpu } from "../gpu/runtime/device.ts";
import { createDispatch, encode, type KernelSpec } from "../gpu/runtime/kernel.ts";
import { createTensor, destroyTensor } from "../gpu/runtime/tensor.ts";

export interface ProbeRow {
  shape: "independent" | "chained";
  workgroupSize: number;
  /** Best of the runs, and their median. */
  gflops: number;
  medianGflops: number;
  /** The same FLOPs per second of process CPU time (all of llvmpipe's threads; CPU adapters). */
  gflopsPerCpuSecond: number;
}

export interface FmaCeiling {
  /** The best row's GFLOP/s: the ceiling the bench's shares refer to. */
  gflops: number;
  best: { shape: ProbeRow["shape"]; workgroupSize: number };
  rows: ProbeRow[];
  invocations: number;
}

const ACCUMULATORS = 8;
const FMAS_PER_INVOCATION = 4096; // per accumulator

function probeKernel(workgroupSize: number, chain: number): KernelSpec {
  const accs = [...Array(ACCUMULATORS).keys()];
  const step = (i: number) => `${"fma(".repeat(chain)}a${i}${", m, c)".repeat(chain)}`;
  return {
    name: "fmaProbe",
    params: { seed: "f32" },
    bindings: { out: "write" },
    code: /* wgsl */ `
@compute @workgroup_size(${workgroupSize}) fn main(@builtin(global_invocation_id) gid: vec3u) {
  // Distinct start values per lane and accumulator; m, c keep them bounded (a fixed point near 0.01).
  ${accs.map((i) => `var a${i} = vec4f(f32(gid.x) * ${i + 1}e-7 + p.seed);`).join("\n  ")}
  let m = vec4f(0.9999);
  let c = vec4f(1e-6);
  for (var k = 0u; k < ${FMAS_PER_INVOCATION / chain}u; k++) {
    ${accs.map((i) => `a${i} = ${step(i)};`).join("\n    ")}
  }
  // One store that depends on every accumulator, so none is dead code.
  out[gid.x] = dot(${accs.map((i) => `a${i}`).join(" + ")}, vec4f(1.0));
}`,
  };
}

/**
 * Runs both probe shapes at workgroup sizes 8, 16 and 64, `runs` times each, interleaved (a busy
 * machine slows them alike), and returns the best as the ceiling. `invocations` sizes the work:
 * the default gives llvmpipe ~0.1 s a run.
 */
export async function measureFmaCeiling(
  gpu: Gpu,
  o: { invocations?: number; runs?: number } = {},
): Promise<FmaCeiling> {
  const invocations = o.invocations ?? 4096;
  const runs = o.runs ?? 3;
  const out = createTensor(gpu, [invocations], "f32", "fmaProbe.out");
  const flops = 2 * 4 * ACCUMULATORS * FMAS_PER_INVOCATION * invocations;
  const cases: { shape: ProbeRow["shape"]; workgroupSize: number; chain: number }[] = [];
  for (const shape of ["independent", "chained"] as const) {
    for (const workgroupSize of [8, 16, 64]) {
      cases.push({ shape, workgroupSize, chain: shape === "chained" ? 8 : 1 });
    }
  }
  const dispatches = await Promise.all(
    cases.map((c) =>
      createDispatch(gpu, probeKernel(c.workgroupSize, c.chain), { out }, [
        invocations / c.workgroupSize,
      ], { seed: 0.5 })
    ),
  );
  const wall: number[][] = cases.map(() => []);
  const cpu: number[][] = cases.map(() => []);
  const run = async (i: number) => {
    const encoder = gpu.device.createCommandEncoder();
    encode(encoder, [dispatches[i]]);
    const before = process.cpuUsage();
    const start = performance.now();
    gpu.device.queue.submit([encoder.finish()]);
    await gpu.device.queue.onSubmittedWorkDone();
    const used = process.cpuUsage(before);
    return { ms: performance.now() - start, cpuMs: (used.user + used.system) / 1000 };
  };
  for (let i = 0; i < cases.length; i++) await run(i); // compile and warm up
  // The submit's fixed cost (~11 ms on llvmpipe) is taken off each run.
  const idle: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = performance.now();
    gpu.device.queue.submit([gpu.device.createCommandEncoder().finish()]);
    await gpu.device.queue.onSubmittedWorkDone();
    idle.push(performance.now() - start);
  }
  const overhead = idle.sort((a, b) => a - b)[2];
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < cases.length; i++) {
      const t = await run(i);
      wall[i].push(Math.max(t.ms - overhead, 1e-3));
      cpu[i].push(Math.max(t.cpuMs, 1e-3));
    }
  }
  destroyTensor(out);
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const rows: ProbeRow[] = cases.map((c, i) => ({
    shape: c.shape,
    workgroupSize: c.workgroupSize,
    gflops: flops / (Math.min(...wall[i]) * 1e6),
    medianGflops: flops / (med(wall[i]) * 1e6),
    gflopsPerCpuSecond: flops / (med(cpu[i]) * 1e6),
  }));
  const best = rows.reduce((a, b) => (b.gflops > a.gflops ? b : a));
  return {
    gflops: best.gflops,
    best: { shape: best.shape, workgroupSize: best.workgroupSize },
    rows,
    invocations,
  };
}
