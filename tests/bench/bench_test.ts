// `deno task bench` on a tiny UNet (batch 2, one timed step, a 2-sprite x 2-step sample): the
// report's structure, finite positive timings, and a per-kernel table that accounts for every
// dispatch of the trainer's step list.
import assert from "node:assert/strict";
import { dispatchFlops, kernelTable } from "../../bench/kernel_profile.ts";
import { createDispatch } from "../../gpu/runtime/kernel.ts";
import { formatReport, runBench } from "../../bench/mod.ts";
import { syntheticDataset } from "../../bench/training_bench.ts";
import { conv2dForward } from "../../gpu/ops/conv2d/conv2d.ts";
import { matmul } from "../../gpu/ops/matmul/matmul.ts";
import { randomSpriteModel } from "../../gpu/model/sprite_model.ts";
import { withProfile } from "../../gpu/runtime/device.ts";
import { LLVMPIPE } from "../../gpu/runtime/profiles/llvmpipe.ts";
import { createTensor } from "../../gpu/runtime/tensor.ts";
import { REFERENCE_RECIPE } from "../../gpu/train/recipe.ts";
import { Trainer } from "../../gpu/train/trainer.ts";
import { getGpu, tinyConfig } from "../util.ts";

const positive = (x: unknown, what: string) =>
  assert.ok(typeof x === "number" && Number.isFinite(x) && x > 0, `${what} = ${x}`);

Deno.test("bench on a tiny config: training, sampling and the per-kernel table", async () => {
  const gpu = await getGpu();
  const BATCH = 2;
  const report = await runBench(gpu, {
    configs: [{ name: "tiny", config: tinyConfig }],
    batches: [BATCH],
    precisions: ["f32", "f16"],
    steps: 1,
    sample: { count: 2, steps: 2, repeats: 1 },
    kernels: true,
    ops: false,
    datasetCount: 16,
    probe: { invocations: 256, runs: 1 },
  });
  assert.equal(report.adapter, gpu.description);
  assert.equal(report.adapterKind, gpu.adapterKind);
  assert.equal(report.profile, gpu.profile.name);
  assert.equal(report.deno.deno, Deno.version.deno);
  // The FMA probe ran before and after the cases, every shape at workgroup sizes 8, 16 and 64;
  // the ceiling is the best row, and every row with FLOPs reports its share of it.
  const ceiling = report.fmaCeiling;
  for (const probe of [ceiling.before, ceiling.after!]) {
    assert.deepEqual(
      probe.rows.map((r) => `${r.shape} ${r.workgroupSize}`),
      [
        "independent 8",
        "independent 16",
        "independent 64",
        "chained 8",
        "chained 16",
        "chained 64",
      ],
    );
    for (const r of probe.rows) positive(r.gflops, `probe ${r.shape} ${r.workgroupSize}`);
  }
  assert.equal(
    ceiling.gflops,
    Math.max(...[...ceiling.before.rows, ...ceiling.after!.rows].map((r) => r.gflops)),
  );
  for (const t of [...report.training, ...report.sampling]) {
    assert.ok(Math.abs(t.ceilingShare! * ceiling.gflops - t.gflopsPerSec) < 1e-9 * t.gflopsPerSec);
  }
  const [summary] = report.configs;
  assert.equal(summary.name, "tiny");
  positive(summary.unetParameters, "parameters");
  positive(summary.trainingGflopPerStep[String(BATCH)], "GFLOP per step");
  const shares = Object.values(summary.forwardShares).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(shares - 1) < 1e-9, `forward shares sum to ${shares}`);

  assert.deepEqual(report.training.map((t) => t.precision), ["f32", "f16"]);
  for (const t of report.training) {
    assert.equal(t.batch, BATCH);
    const fields = [
      "warmUpMs",
      "msPerStep",
      "aloneMedianMs",
      "itPerSec",
      "imagesPerSec",
      "gflopsPerSec",
    ] as const;
    for (const k of fields) positive(t[k], `training ${t.precision} ${k}`);
    assert.ok(Math.abs(t.itPerSec * t.msPerStep - 1000) < 1e-6);
  }

  assert.deepEqual(report.sampling.map((s) => s.precision), ["f32", "f16"]);
  for (const s of report.sampling) {
    for (const k of ["warmUpMs", "medianMs", "spritesPerSec", "gflopsPerSec"] as const) {
      positive(s[k], `sampling ${s.precision} ${k}`);
    }
  }

  // The llvmpipe profile times kernels on the wall clock; the others need timestamp queries.
  if (!gpu.hasTimestamps && gpu.profile.bench.timing !== "wall-clock") {
    assert.equal(report.kernels, null);
    return;
  }
  const k = report.kernels!;
  positive(k.kernelMs, "kernel time");
  const shareSum = k.rows.reduce((a, r) => a + r.share, 0);
  assert.ok(Math.abs(shareSum - 1) < 0.1, `kernel shares sum to ${shareSum}`);
  const msSum = k.rows.reduce((a, r) => a + r.ms, 0);
  assert.ok(Math.abs(msSum - k.kernelMs) <= 1e-6 * k.kernelMs);
  for (const r of k.rows) {
    assert.ok(Number.isFinite(r.ms) && r.ms >= 0, `${r.kernel}: ${r.ms} ms`);
    if (r.gflops !== null) positive(r.gflops, `${r.kernel} GFLOP/s`);
    assert.equal(r.ceilingShare, r.gflops === null ? null : r.gflops / ceiling.gflops);
  }
  assert.ok(k.rows.some((r) => r.kernel.startsWith("matmul") && r.gflops !== null));

  // The same step list, built again: every dispatch is in the table, by name and count.
  const model = randomSpriteModel(gpu, tinyConfig, 0);
  const trainer = await Trainer.create(gpu, model, syntheticDataset(16), {
    ...REFERENCE_RECIPE,
    batch: BATCH,
  });
  const calls = new Map<string, number>();
  for (const d of trainer.step.warmUp) calls.set(d.name, (calls.get(d.name) ?? 0) + 1);
  assert.equal(k.dispatches, trainer.step.warmUp.length);
  assert.deepEqual(new Map(k.rows.map((r) => [r.kernel, r.calls])), calls);

  const text = formatReport(gpu, report);
  for (
    const s of [
      gpu.description,
      Deno.version.deno,
      "config tiny",
      "kernels of one training",
      "FMA ceiling",
    ]
  ) {
    assert.ok(text.includes(s), `report text lacks "${s}"`);
  }
  JSON.parse(JSON.stringify(report));
});

Deno.test("dispatchFlops: 2 M N K per batch item of a GEMM, none for other kernels", async () => {
  const gpu = await getGpu();
  const [M, N, K, batch] = [5, 7, 13, 3];
  const a = createTensor(gpu, [batch * M * K]);
  const b = createTensor(gpu, [batch * K * N]);
  const c = createTensor(gpu, [batch * M * N]);
  const dispatches = await matmul(gpu, { a, b, c, M, N, K, batch });
  const gemm = dispatches.filter((d) => dispatchFlops(d) !== null);
  assert.equal(gemm.length, 1, dispatches.map((d) => d.name).join(", "));
  // K is rounded up to the kernel's vec4 step on the texture path.
  const flops = dispatchFlops(gemm[0])!;
  assert.ok(flops >= 2 * M * N * K * batch && flops <= 2 * M * N * (K + 3) * batch, `${flops}`);
  for (const d of dispatches) {
    if (!d.name.startsWith("matmul")) assert.equal(dispatchFlops(d), null);
  }
});

Deno.test("dispatchFlops: 2 x outputs x in-channels x taps for a direct texture conv", async () => {
  const gpu = withProfile(await getGpu(), LLVMPIPE);
  const shape = {
    batch: 3,
    inChannels: 8,
    outChannels: 5,
    height: 6,
    width: 7,
    kernel: 3 as const,
  };
  const x = createTensor(gpu, [3 * 8 * 6 * 7]);
  const weight = createTensor(gpu, [5 * 8 * 9]);
  const y = createTensor(gpu, [3 * 5 * 6 * 7]);
  const dispatches = await conv2dForward(gpu, {
    x,
    weight,
    y,
    shape: { ...shape, stride: 1 },
  });
  const conv = dispatches.filter((d) => dispatchFlops(d) !== null);
  assert.deepEqual(conv.map((d) => d.name), ["conv2dDirectTexture3x3s1"]);
  assert.equal(dispatchFlops(conv[0]), 2 * 3 * 5 * 6 * 7 * 8 * 9);
});

Deno.test("kernelTable: GB/s of the bytes bound to each dispatch, textures included", async () => {
  const gpu = await getGpu();
  const n = 1000;
  const [a, c] = [createTensor(gpu, [n]), createTensor(gpu, [n])];
  const copy = await createDispatch(
    gpu,
    {
      name: "copyForTest",
      params: { n: "u32" },
      bindings: { a: "read", c: "write" },
      code: `@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < p.n) { c[g.x] = a[g.x]; } }`,
    },
    { a, c },
    [Math.ceil(n / 64)],
    { n },
  );
  assert.equal(copy.boundBytes, 2 * 4 * n);
  const [row] = kernelTable([copy, copy], [2, 6]);
  assert.equal(row.calls, 2);
  assert.ok(Math.abs(row.gbps! - (4 * 4 * n) / (8 * 1e6)) < 1e-12, `${row.gbps}`);
  // A texture-technique GEMM's pack binds its input and its texture (16 bytes a texel in f32); a K
  // that is not a whole number of texels is packed, not read from the mirror.
  const [M, N, K] = [8, 8, 13];
  const packs = await matmul(withProfile(gpu, LLVMPIPE), {
    a: createTensor(gpu, [M * K]),
    b: createTensor(gpu, [K * N]),
    c: createTensor(gpu, [M * N]),
    M,
    N,
    K,
  });
  const packA = packs.find((d) => d.name === "matmulPackTexture")!;
  assert.ok(packA.boundBytes > 4 * M * K && packA.boundBytes % 16 === 0, `${packA.boundBytes}`);
});
