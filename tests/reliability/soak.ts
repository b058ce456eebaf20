// `deno task soak [--seconds 180] [--clients 16] [--model DIR|tiny] [--kills 23]`: the reliability
// suite's longer versions against `deno task start` in a child process, with figures printed:
// generation requests from concurrent clients (requests, errors, latency), health and static
// latency during generation, during a training job and during both, training progress under load,
// the service's peak RSS (VmHWM) against its memory budget, a SIGTERM that must leave the job's
// checkpoint, and kill -9 at random points of checkpoint swaps. Seeded; loopback only.
import { parseArgs } from "node:util";
import { readTrainingState } from "../../data/run_folder.ts";
import { readFolderFiles, recoverCheckpointFolder } from "../../data/model_folder.ts";
import { makeRng } from "../util.ts";
import {
  type Latency,
  latency,
  pollWhile,
  postJson,
  ROOT,
  showLatency,
  startService,
  timed,
  tinyConfigFile,
} from "./helpers.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "180" },
    clients: { type: "string", default: "16" },
    model: { type: "string", default: "shipped" },
    kills: { type: "string", default: "23" },
  },
});
const seconds = Number(flags.seconds);
const clients = Number(flags.clients);
const kills = Number(flags.kills);
const rng = makeRng(1234);
const dir = await Deno.makeTempDir({ prefix: "soak_" });

const modelArgs = flags.model === "tiny"
  ? ["--random-init", "--config", await tinyConfigFile(dir)]
  : flags.model === "shipped"
  ? []
  : ["--model", flags.model];
const service = await startService(dir, [...modelArgs, "--allow-train"]);
const url = service.url;
const pid = service.child.pid;

/** Peak resident memory of the service process (kernel's high-water mark), in MiB. */
async function peakRssMib(): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

interface Tally {
  requests: number;
  errors: number;
  statuses: Map<number, number>;
  ms: number[];
}
const tally = (): Tally => ({ requests: 0, errors: 0, statuses: new Map(), ms: [] });

/** One client: random valid requests (some past the limits on purpose) until `until`. */
async function client(until: number, t: Tally, seed: number): Promise<void> {
  const r = makeRng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(r.next() * xs.length)];
  while (performance.now() < until) {
    const body = {
      class: pick(["human", "non-human", "food", "spell", "side-facing"]),
      count: pick([1, 2, 4, 8, 16]),
      steps: pick([2, 5, 10, 20]),
      eta: pick([0, 0, 0.5]),
      guidance: pick([1, 1, 2]),
      seed: Math.floor(r.next() * 1e6),
    };
    const t0 = performance.now();
    try {
      const res = await fetch(`${url}/api/generate`, postJson(body));
      await res.arrayBuffer();
      t.statuses.set(res.status, (t.statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) t.errors++;
      if (res.status === 200) t.ms.push(performance.now() - t0);
    } catch {
      t.errors++;
    }
    t.requests++;
  }
}

const probe = async () => {
  for (const path of ["/api/health", "/static/style.css"]) {
    const r = await timed(url + path);
    if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
  }
};

async function load(phaseSeconds: number, withClients: boolean, t: Tally): Promise<Latency> {
  const until = performance.now() + phaseSeconds * 1000;
  const running = withClients
    ? Promise.all(Array.from({ length: clients }, (_, i) => client(until, t, rng.next() * 1e9 + i)))
    : new Promise((r) => setTimeout(r, phaseSeconds * 1000));
  const probes = await pollWhile(running, probe, 50);
  await running;
  return latency(probes);
}

const phase = seconds / 3;
const gen = tally();
console.log(`soak: ${seconds} s, ${clients} clients, model ${flags.model}, pid ${pid}`);
await timed(`${url}/api/generate`, postJson({ class: 0, count: 1, steps: 2 })); // warm
const duringGeneration = await load(phase, true, gen);

const started = await fetch(`${url}/api/train`, postJson({ batch: 8, epochs: 1000, log_every: 1 }));
const job = await started.json();
if (started.status !== 202) throw new Error(`the job did not start: ${JSON.stringify(job)}`);
let progressEvents = 0;
const events = await fetch(`${url}/api/train/events`);
const reading = (async () => {
  const d = new TextDecoder();
  for await (const b of events.body!) {
    progressEvents += (d.decode(b).match(/event: progress/g) ?? []).length;
  }
})();
const duringTraining = await load(phase, false, tally());
const both = tally();
const stepsBefore = (await (await fetch(`${url}/api/train`)).json()).progress.step;
const duringBoth = await load(phase, true, both);
const state = await (await fetch(`${url}/api/train`)).json();
const health = await (await fetch(`${url}/api/health`)).json();
const rss = await peakRssMib();

const t0 = performance.now();
service.child.kill("SIGTERM");
const exit = await service.status;
await reading.catch(() => {});
const stopSeconds = (performance.now() - t0) / 1000;
const saved = await readTrainingState(`${dir}/runs/${job.run}/checkpoint`);

// kill -9 during checkpoint swaps.
const swapDir = `${dir}/swap/checkpoint`;
await Deno.mkdir(`${dir}/swap`);
let promoted = 0;
let lost = 0;
for (let i = 0; i < kills; i++) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}tests/reliability/checkpoint_writer.ts`, swapDir],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read();
  await new Promise((r) => setTimeout(r, 40 + Math.floor(rng.next() * 400)));
  child.kill("SIGKILL");
  await child.status;
  await reader.cancel().catch(() => {});
  const repaired = await recoverCheckpointFolder(swapDir, { clean: true });
  if (repaired.promoted) promoted++;
  try {
    const files = await readFolderFiles(swapDir, ["config.json", "sprite_diffusion.json"]);
    if (files.size !== 2) lost++;
  } catch {
    if (i > 0) lost++; // before its first swap there is no checkpoint yet
  }
}

const statuses = (t: Tally) => [...t.statuses].sort().map(([s, n]) => `${s}: ${n}`).join(", ");
const total = { requests: gen.requests + both.requests, errors: gen.errors + both.errors };
console.log(
  [
    `machine: ${health.adapter}, ${navigator.hardwareConcurrency} cores`,
    `generation requests: ${total.requests}, errors (5xx or no answer): ${total.errors}`,
    `  during generation: ${statuses(gen)}; latency of 200s: ${showLatency(latency(gen.ms))}`,
    `  during training: ${statuses(both)}; latency of 200s: ${showLatency(latency(both.ms))}`,
    `health + static during generation: ${showLatency(duringGeneration)}`,
    `health + static during training: ${showLatency(duringTraining)}`,
    `health + static during both: ${showLatency(duringBoth)}`,
    `training: ${state.progress.step} steps (${state.progress.step - stepsBefore} while ` +
    `${clients} clients generated), ${progressEvents} progress events`,
    `memory: RSS peak ${rss.toFixed(0)} MiB; budget ${
      (health.memory.budgetBytes / 2 ** 20).toFixed(0)
    } MiB, budget peak ${(health.memory.peakBytes / 2 ** 20).toFixed(0)} MiB`,
    `SIGTERM: exit ${exit.code} after ${stopSeconds.toFixed(1)} s; checkpoint at step ` +
    `${saved.state.step} (epoch ${saved.state.epoch}, step ${saved.state.stepInEpoch} in it)`,
    `kill -9 during checkpoint swaps: ${kills} kills, ${lost} checkpoints lost, ${promoted} ` +
    "promoted from a complete copy",
  ].join("\n"),
);
await Deno.remove(dir, { recursive: true });
if (total.errors || lost || exit.code !== 0) Deno.exit(1);
