// `deno task bench`: training it/s and sampling latency of the real model configs in f32 and mixed
// precision, a per-kernel time table of one training step (timestamp queries, or the wall clock where
// the backend profile says so: llvmpipe), and optionally the matmul/conv2d op table; every run names
// the adapter, its kind and profile, the Deno version and the configs (with their analytic FLOPs).
import { adapterLine, type Gpu, type Precision } from "../gpu/runtime/device.ts";
import { type FlopBreakdown, trainingStepFlops, unetForwardFlops } from "../gpu/model/flops.ts";
import type { UNetConfig } from "../gpu/model/config.ts";
import { parameterCount, unetParamSpecs } from "../gpu/model/params.ts";
import { benchConv2d } from "./conv2d_bench.ts";
import { type FmaCeiling, measureFmaCeiling } from "./fma_probe.ts";
import { benchMatmul } from "./matmul_bench.ts";
import { benchSampling, type SamplingResult } from "./sampling_bench.ts";
import {
  benchTraining,
  type KernelProfile,
  type NamedConfig,
  syntheticDataset,
  type TrainingResult,
} from "./training_bench.ts";

export interface BenchRow {
  name: string;
  shape: string;
  ms: number;
  gflops: number;
  /** gflops as a share of the report's FMA ceiling (`fmaCeiling`). */
  ceilingShare?: number;
}

export interface BenchOptions {
  configs: NamedConfig[];
  batches: number[];
  /** Each training case runs once per precision ("f16": mixed precision). */
  precisions: Precision[];
  steps: number;
  sample: { count: number; steps: number; repeats: number } | null;
  kernels: boolean;
  ops: boolean;
  /** Synthetic sprites the training cases draw from (at least the largest batch). */
  datasetCount?: number;
  /** The FMA probe's size (bench/fma_probe.ts); tests make it small. */
  probe?: { invocations?: number; runs?: number };
}

export interface ConfigSummary {
  name: string;
  unetParameters: number;
  forwardGflopPerImage: number;
  /** Shares of the forward FLOPs. */
  forwardShares: Omit<FlopBreakdown, "total">;
  /** Analytic GFLOP of one training step, per benchmarked batch size. */
  trainingGflopPerStep: Record<string, number>;
  config: UNetConfig;
}

export interface BenchReport {
  adapter: string;
  /** "cpu" or "gpu" (device.ts's AdapterKind). */
  adapterKind: string;
  /** The backend profile the kernels were built with, e.g. "llvmpipe". */
  profile: string;
  /** "timestamp-query" or "wall clock". */
  timing: string;
  /**
   * The adapter's FMA ceiling (bench/fma_probe.ts), measured before the cases and again after
   * them (a loaded machine moves it); `gflops` is the higher of the two, the figure every
   * `ceilingShare` divides by.
   */
  fmaCeiling: { gflops: number; before: FmaCeiling; after?: FmaCeiling };
  deno: typeof Deno.version;
  configs: ConfigSummary[];
  training: (TrainingResult & { ceilingShare?: number })[];
  sampling: (SamplingResult & { ceilingShare?: number })[];
  /** null when not asked for or the adapter has no timestamp queries. */
  kernels: (KernelProfile & { rows: (KernelProfile["rows"][number] & Share)[] }) | null;
  /** Why there is no kernel table although one was asked for. */
  kernelsMissing?: string;
  ops?: Record<string, BenchRow[]>;
}

/** A row's GFLOP/s as a share of the FMA ceiling (null where the row has no FLOP count). */
export interface Share {
  ceilingShare: number | null;
}

export function summarize({ name, config }: NamedConfig, batches: number[]): ConfigSummary {
  const f = unetForwardFlops(config);
  return {
    name,
    unetParameters: parameterCount(unetParamSpecs(config)),
    forwardGflopPerImage: f.total / 1e9,
    forwardShares: {
      conv3x3: f.conv3x3 / f.total,
      conv1x1: f.conv1x1 / f.total,
      linear: f.linear / f.total,
      attention: f.attention / f.total,
    },
    trainingGflopPerStep: Object.fromEntries(
      batches.map((b) => [String(b), trainingStepFlops(config, b) / 1e9]),
    ),
    config,
  };
}

/** Runs the benchmark; `progress` hears each case as it starts (they take minutes on a CPU). */
export async function runBench(
  gpu: Gpu,
  o: BenchOptions,
  progress: (line: string) => void = () => {},
): Promise<BenchReport> {
  progress("FMA ceiling probe");
  const before = await measureFmaCeiling(gpu, o.probe);
  const report: BenchReport = {
    adapter: gpu.description,
    adapterKind: gpu.adapterKind,
    profile: gpu.profile.name,
    timing: timingOf(gpu),
    fmaCeiling: { gflops: before.gflops, before },
    deno: Deno.version,
    configs: o.configs.map((c) => summarize(c, o.batches)),
    training: [],
    sampling: [],
    kernels: null,
  };
  if (o.kernels && !gpu.hasTimestamps && gpu.profile.bench.timing === "timestamps") {
    report.kernelsMissing = "the adapter offers no timestamp queries";
  }
  const dataset = syntheticDataset(o.datasetCount ?? Math.max(512, ...o.batches));
  for (const named of o.configs) {
    for (const batch of o.batches) {
      for (const precision of o.precisions) {
        const kernels = o.kernels && report.training.length === 0;
        progress(
          `training ${named.name} batch ${batch} ${precision}${
            kernels ? " (+ kernel profile)" : ""
          }`,
        );
        const r = await benchTraining(gpu, named, batch, {
          steps: o.steps,
          dataset,
          kernels,
          precision,
        });
        report.training.push(r.result);
        if (r.kernels) {
          report.kernels = {
            ...r.kernels,
            rows: r.kernels.rows.map((k) => ({ ...k, ceilingShare: null })),
          };
        }
      }
    }
  }
  if (o.sample) {
    for (const named of o.configs) {
      for (const precision of o.precisions) {
        progress(
          `sampling ${named.name} ${precision}: ${o.sample.count} sprites x ${o.sample.steps} steps`,
        );
        report.sampling.push(await benchSampling(gpu, named, { ...o.sample, precision }));
      }
    }
  }
  if (o.ops) {
    progress("op table: matmul, conv2d");
    report.ops = { matmul: await benchMatmul(gpu), conv2d: await benchConv2d(gpu) };
  }
  progress("FMA ceiling probe, again");
  const after = await measureFmaCeiling(gpu, o.probe);
  report.fmaCeiling = { gflops: Math.max(before.gflops, after.gflops), before, after };
  applyShares(report);
  return report;
}

/** Sets every row's `ceilingShare` from the report's FMA ceiling. */
function applyShares(r: BenchReport): void {
  const share = (gflops: number | null) => (gflops === null ? null : gflops / r.fmaCeiling.gflops);
  for (const t of r.training) t.ceilingShare = share(t.gflopsPerSec)!;
  for (const s of r.sampling) s.ceilingShare = share(s.gflopsPerSec)!;
  for (const k of r.kernels?.rows ?? []) k.ceilingShare = share(k.gflops);
  for (const rows of Object.values(r.ops ?? {})) {
    for (const row of rows) row.ceilingShare = share(row.gflops)!;
  }
}

const pct = (x: number) => `${(100 * x).toFixed(x < 0.01 ? 2 : 1)}%`;

/** A share of the FMA ceiling, for the tables' "ceiling" column. */
const ofCeiling = (share: number | null | undefined) =>
  share === null || share === undefined ? "" : `${(100 * share).toFixed(0)}%`;

function opTable(rows: BenchRow[]): string {
  const header = `${"kernel".padEnd(30)} ${"shape".padEnd(34)} ${"ms".padStart(9)} ${
    "GFLOP/s".padStart(9)
  } ${"ceiling".padStart(7)}`;
  const body = rows.map((r) =>
    `${r.name.padEnd(30)} ${r.shape.padEnd(34)} ${r.ms.toFixed(3).padStart(9)} ${
      r.gflops.toFixed(1).padStart(9)
    } ${ofCeiling(r.ceilingShare).padStart(7)}`
  );
  return [header, ...body].join("\n");
}

/** The probe's table: the ceiling, and every shape and workgroup size behind it. */
function probeLines(r: BenchReport): string[] {
  const c = r.fmaCeiling;
  const out = [
    "",
    `FMA ceiling ${c.gflops.toFixed(1)} GFLOP/s (bench/fma_probe.ts: the best register-only ` +
    `probe, before and after the cases; the "ceiling" columns are shares of it)`,
    `${"probe".padEnd(12)} ${"workgroup".padStart(9)} ${"before".padStart(8)} ${
      "after".padStart(8)
    } ${"per cpu-s".padStart(10)}`,
  ];
  c.before.rows.forEach((row, i) => {
    const after = c.after?.rows[i];
    out.push(
      `${row.shape.padEnd(12)} ${String(row.workgroupSize).padStart(9)} ${
        row.gflops.toFixed(1).padStart(8)
      } ${(after ? after.gflops.toFixed(1) : "").padStart(8)} ${
        row.gflopsPerCpuSecond.toFixed(1).padStart(10)
      }`,
    );
  });
  return out;
}

/** The human-readable report: the header (adapter, Deno, configs), then the results. */
export function formatReport(gpu: Gpu, r: BenchReport): string {
  return `${formatHeader(gpu, r.configs)}\n${formatResults(r)}`;
}

/** The profile's timing where the adapter has it (llvmpipe's: the wall clock, see BackendProfile). */
const timingOf = (gpu: Gpu) =>
  gpu.hasTimestamps && gpu.profile.bench.timing === "timestamps" ? "timestamp-query" : "wall clock";

export function formatHeader(gpu: Gpu, configs: ConfigSummary[]): string {
  const v = Deno.version;
  const out: string[] = [
    adapterLine(gpu),
    `deno ${v.deno} (v8 ${v.v8}, typescript ${v.typescript}), timing: ${timingOf(gpu)}`,
  ];
  for (const c of configs) {
    const k = c.config;
    const s = c.forwardShares;
    out.push(
      `config ${c.name}: ${c.unetParameters.toLocaleString("en-US")} UNet parameters, ` +
        `block_out_channels [${k.block_out_channels}], layers_per_block ${k.layers_per_block}, ` +
        `groups ${k.norm_num_groups}, heads ${k.attention_head_dim}, ` +
        `cross_attention_dim ${k.cross_attention_dim}, sample_size ${k.sample_size}`,
      `  forward ${c.forwardGflopPerImage.toFixed(3)} GFLOP/image (3x3 conv ${pct(s.conv3x3)}, ` +
        `linear ${pct(s.linear)}, 1x1 conv ${pct(s.conv1x1)}, attention ${pct(s.attention)}); ` +
        `training step: ${
          Object.entries(c.trainingGflopPerStep)
            .map(([b, g]) => `${g.toPrecision(3)} GFLOP at batch ${b}`).join(", ")
        }`,
    );
  }
  return out.join("\n");
}

export function formatResults(r: BenchReport): string {
  const out: string[] = [...probeLines(r)];
  const w = Math.max(12, ...r.configs.map((c) => c.name.length));
  if (r.training.length) {
    out.push(
      "",
      `${"training".padEnd(w)} ${"batch".padStart(5)} ${"prec".padStart(4)} ${
        "steps".padStart(5)
      } ${"warm-up ms".padStart(11)} ${"ms/step".padStart(8)} ${"alone ms".padStart(9)} ${
        "it/s".padStart(8)
      } ${"img/s".padStart(8)} ${"GFLOP/s".padStart(8)} ${"ceiling".padStart(7)}`,
    );
    for (const t of r.training) {
      out.push(
        `${t.config.padEnd(w)} ${String(t.batch).padStart(5)} ${t.precision.padStart(4)} ${
          String(t.steps).padStart(5)
        } ${t.warmUpMs.toFixed(0).padStart(11)} ${t.msPerStep.toFixed(1).padStart(8)} ${
          t.aloneMedianMs.toFixed(1).padStart(9)
        } ${t.itPerSec.toFixed(3).padStart(8)} ${t.imagesPerSec.toFixed(1).padStart(8)} ${
          t.gflopsPerSec.toFixed(1).padStart(8)
        } ${ofCeiling(t.ceilingShare).padStart(7)}`,
      );
    }
  }
  if (r.sampling.length) {
    out.push(
      "",
      `${"sampling".padEnd(w)} ${"prec".padStart(4)} ${"request".padEnd(22)} ${
        "warm-up ms".padStart(11)
      } ${"median ms".padStart(10)} ${"sprites/s".padStart(10)} ${"GFLOP/s".padStart(8)} ${
        "ceiling".padStart(7)
      }`,
    );
    for (const s of r.sampling) {
      out.push(
        `${s.config.padEnd(w)} ${s.precision.padStart(4)} ${
          `${s.count} x ${s.steps} DDIM steps`.padEnd(22)
        } ${s.warmUpMs.toFixed(0).padStart(11)} ${s.medianMs.toFixed(1).padStart(10)} ${
          s.spritesPerSec.toFixed(2).padStart(10)
        } ${s.gflopsPerSec.toFixed(1).padStart(8)} ${ofCeiling(s.ceilingShare).padStart(7)}`,
      );
    }
  }
  if (r.kernelsMissing) out.push("", `no per-kernel table: ${r.kernelsMissing}`);
  if (r.kernels) {
    const k = r.kernels;
    out.push(
      "",
      `kernels of one training step, ${k.config} batch ${k.batch}: ${k.dispatches} dispatches, ` +
        `${k.kernelMs.toFixed(1)} ms of kernel time`,
      ...(r.timing === "wall clock"
        ? [
          `  ${r.profile} profile (llvmpipe writes timestamps at launch): each kernel's calls are`,
          "  timed together on the wall clock in a submit of their own (median of 3 runs of 3),",
          "  less the time of an empty submit.",
        ]
        : ["  Each dispatch timed on its own (timestamp queries)."]),
      "  GB/s: the bytes bound to each dispatch (every buffer and texture once) per second.",
      `${"kernel".padEnd(34)} ${"calls".padStart(6)} ${"ms".padStart(10)} ${"share".padStart(7)} ${
        "GFLOP/s".padStart(8)
      } ${"ceiling".padStart(7)} ${"GB/s".padStart(7)}`,
    );
    for (const row of k.rows) {
      out.push(
        `${row.kernel.padEnd(34)} ${String(row.calls).padStart(6)} ${
          row.ms.toFixed(3).padStart(10)
        } ${pct(row.share).padStart(7)} ${
          (row.gflops === null ? "" : row.gflops.toFixed(1)).padStart(8)
        } ${ofCeiling(row.ceilingShare).padStart(7)} ${
          (row.gbps === null ? "" : row.gbps.toFixed(2)).padStart(7)
        }`,
      );
    }
  }
  for (const [name, rows] of Object.entries(r.ops ?? {})) {
    out.push("", `op table: ${name}`, opTable(rows));
  }
  return out.join("\n");
}
