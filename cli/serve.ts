// `deno task start`: the HTTP service and the page on 127.0.0.1:8000 unless told otherwise. The GPU
// work runs in a worker (routes/gpu_worker.ts); this thread answers HTTP. The port is bound before
// the model loads, so a port in use is one line at once (exit 2); until the model is ready every
// request is answered 503. SIGINT or SIGTERM stops
// accepting, lets a training job write its checkpoint, and exits; a second signal exits at once.
import { InputError } from "../errors.ts";
import { createApp } from "../routes/app.ts";
import { LOOPBACK_HOSTS } from "../routes/context.ts";
import type { ModelSpec } from "../routes/gpu_protocol.ts";
import { errorResponse } from "../routes/http.ts";
import { serve } from "../routes/server.ts";
import { numberFlag, parseFlags, precisionFlag } from "./args.ts";
import { DEFAULT_MODEL_DIR } from "../data/model_source.ts";

const help = `usage: deno task start [--host 127.0.0.1] [--port 8000]
    [--model DIR | --random-init [--config compact|reference|FILE.json]]
    [--allow-train [--token SECRET] [--sprites FILE.npy --labels FILE.npy]]
    [--precision f32|f16] [--allowed-hosts NAME,...]
    [--memory-budget MIB] [--max-work N] [--max-runs 8]
    [--read-timeout 10] [--idle-timeout 30] [--max-connections 256]
  Serves the API and the page. The model is the shipped checkpoint unless --model names another
  folder (ours or a diffusers UNet folder). --precision f16 samples with f16 GEMM/conv operands.
  Training jobs are off unless --allow-train; bound to an address other than loopback they also
  need --token (sent as "Authorization: Bearer SECRET"). A job fine-tunes the served model unless
  asked to start from scratch; it trains on the bundled set (cleaned) unless --sprites and
  --labels name other files (the course's sprites_1788_16x16.npy and
  sprite_labels_nc_1788_16x16.npy, say).
  --allowed-hosts   names the Host header may carry besides loopback's (and --host's own)
  --memory-budget   MiB the GPU work may hold at once (default: a quarter of the host's memory,
                    at most 4 of the adapter's largest buffers); more is refused with 413
  --max-work        UNet item-steps per request: sprites x steps, x2 with guidance
                    (default 8192 on a CPU adapter, 131072 on a GPU)
  --max-runs        web training runs kept on disk before a new job is refused
  --read-timeout    seconds a request head or body may take to arrive
  --idle-timeout    seconds a kept-alive connection may sit unused`;

const WILDCARD = new Set(["0.0.0.0", "::", "[::]"]);

export async function serveCommand(argv: string[]): Promise<void> {
  const f = parseFlags(argv, {
    host: { type: "string" },
    port: { type: "string" },
    model: { type: "string" },
    "random-init": { type: "boolean" },
    config: { type: "string" },
    "allow-train": { type: "boolean" },
    token: { type: "string" },
    sprites: { type: "string" },
    labels: { type: "string" },
    precision: { type: "string" },
    "allowed-hosts": { type: "string" },
    "memory-budget": { type: "string" },
    "max-work": { type: "string" },
    "max-runs": { type: "string" },
    "read-timeout": { type: "string" },
    "idle-timeout": { type: "string" },
    "max-connections": { type: "string" },
    help: { type: "boolean" },
  }, "serve");
  if (f.help) return console.log(help);
  const host = f.host ?? "127.0.0.1";
  const port = numberFlag(f.port, "port", 8000, { min: 0, max: 65535, integer: true });
  if (f.model !== undefined && f["random-init"]) {
    throw new InputError("give --model or --random-init, not both");
  }
  if (f.config !== undefined && !f["random-init"]) {
    throw new InputError("--config goes with --random-init");
  }
  const loopback = LOOPBACK_HOSTS.includes(host.replace(/^\[|\]$/g, ""));
  if (f["allow-train"] && !loopback && !f.token) {
    throw new InputError(
      `--allow-train on ${host} (beyond loopback) needs --token, so that strangers cannot train`,
    );
  }
  if (f.sprites !== undefined && !f["allow-train"]) {
    throw new InputError(
      "--sprites and --labels are what training jobs train on: add --allow-train",
    );
  }
  if ((f.sprites === undefined) !== (f.labels === undefined)) {
    throw new InputError("give both --sprites and --labels, or neither (the bundled set)");
  }
  for (const file of [f.sprites, f.labels]) {
    if (file === undefined) continue;
    const info = await Deno.stat(file).catch(() => null);
    if (!info?.isFile) throw new InputError(`${file}: no such file (a .npy file is expected)`);
  }
  const budgetMib = f["memory-budget"] === undefined
    ? undefined
    : numberFlag(f["memory-budget"], "memory-budget", 0, { min: 16, max: 2 ** 30 });
  const maxWork = f["max-work"] === undefined
    ? undefined
    : numberFlag(f["max-work"], "max-work", 0, { min: 1, max: 1e9, integer: true });
  const maxRuns = numberFlag(f["max-runs"], "max-runs", 8, { min: 1, max: 10_000, integer: true });
  const second = { min: 0.1, max: 86_400 };
  const readTimeout = numberFlag(f["read-timeout"], "read-timeout", 10, second);
  const idleTimeout = numberFlag(f["idle-timeout"], "idle-timeout", 30, second);
  const maxConnections = numberFlag(f["max-connections"], "max-connections", 256, {
    min: 1,
    max: 1e6,
    integer: true,
  });
  const allowedHosts = (f["allowed-hosts"] ?? "").split(",").map((h) => h.trim()).filter(Boolean);
  // A server bound to one address answers to it; a wildcard one only to the names it is given.
  if (!loopback && !WILDCARD.has(host)) allowedHosts.push(host);

  const precision = precisionFlag(f.precision, ["f32", "f16"] as const, "f32");
  const model: ModelSpec = f["random-init"]
    ? { kind: "random", config: f.config ?? "compact" }
    : { kind: "folder", dir: f.model ?? DEFAULT_MODEL_DIR };
  // The port first: a second start on a port in use is told so at once, not after the model.
  let handle = (_req: Request) =>
    Promise.resolve(errorResponse(503, "the server is starting: its model is loading"));
  const server = await serve((req) => handle(req), {
    hostname: host,
    port,
    readTimeoutMs: readTimeout * 1000,
    idleTimeoutMs: idleTimeout * 1000,
    maxConnections,
  });
  const app = await createApp({
    model,
    precision,
    allowTrain: f["allow-train"],
    token: f.token,
    ...(f.sprites && { trainingData: { sprites: f.sprites, labels: f.labels!, clean: true } }),
    allowedHosts,
    memoryBudgetBytes: budgetMib === undefined ? undefined : Math.floor(budgetMib * 2 ** 20),
    limits: { maxRuns, bodyTimeoutMs: readTimeout * 1000, ...(maxWork && { maxWork }) },
    warm: true,
  }).catch(async (e) => {
    await server.shutdown();
    throw e;
  });
  handle = app.handler;
  const ctx = app.context;
  console.log(`adapter: ${ctx.adapter}`);
  console.log(`model: ${ctx.model.source}`);
  const memory = ctx.worker.stats.memory;
  console.log(
    `memory budget: ${Math.round(memory.budgetBytes / 2 ** 20)} MiB; at most ` +
      `${ctx.limits.maxWork} UNet item-steps per request`,
  );
  const { hostname: boundHost, port: boundPort } = server.addr;
  const shown = boundHost.includes(":") ? `[${boundHost}]` : boundHost;
  console.log(`listening on http://${shown}:${boundPort}/`);
  if (f["allow-train"]) console.log("training jobs: allowed");
  const started = performance.now();
  app.warmup.then(() =>
    console.log(`sampler ready (${((performance.now() - started) / 1000).toFixed(1)} s warm-up)`)
  );
  let stopping: Promise<void> | undefined;
  const stop = (signal: string) => {
    if (stopping) {
      console.error(`${signal} again: exiting now`);
      Deno.exit(130);
    }
    console.log(`${signal}: stopping (a training job writes its checkpoint first)`);
    stopping = (async () => {
      await app.close({ exiting: true });
      await server.shutdown();
    })();
  };
  const onInt = () => stop("SIGINT");
  const onTerm = () => stop("SIGTERM");
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  await server.finished;
  await stopping;
  Deno.removeSignalListener("SIGINT", onInt);
  Deno.removeSignalListener("SIGTERM", onTerm);
  console.log("stopped");
  // The GPU worker is left standing (App.close's `exiting`), so the process ends here.
  Deno.exit(0);
}
