// `deno task start`: the HTTP service and the page on 127.0.0.1:8000 unless told otherwise.
import { InputError } from "../errors.ts";
import { adapterLine, getGpu, withPrecision } from "../gpu/runtime/device.ts";
import { createApp } from "../routes/app.ts";
import { numberFlag, parseFlags, precisionFlag } from "./args.ts";
import { DEFAULT_MODEL_DIR, openModel } from "../data/model_source.ts";

const help = `usage: deno task start [--host 127.0.0.1] [--port 8000]
    [--model DIR | --random-init [--config compact|reference]]
    [--allow-train [--token SECRET]] [--precision f32|f16]
  Serves the API and the page. The model is the shipped checkpoint unless --model names another
  folder (ours or a diffusers UNet folder). --precision f16 samples with f16 GEMM/conv operands. Training jobs are off unless --allow-train; bound to
  an address other than loopback they also need --token (sent as "Authorization: Bearer SECRET").`;

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

export async function serveCommand(argv: string[]): Promise<void> {
  const f = parseFlags(argv, {
    host: { type: "string" },
    port: { type: "string" },
    model: { type: "string" },
    "random-init": { type: "boolean" },
    config: { type: "string" },
    "allow-train": { type: "boolean" },
    token: { type: "string" },
    precision: { type: "string" },
    help: { type: "boolean" },
  }, "serve");
  if (f.help) return console.log(help);
  const host = f.host ?? "127.0.0.1";
  const port = numberFlag(f.port, "port", 8000, { min: 0, max: 65535, integer: true });
  if (f.model !== undefined && f["random-init"]) {
    throw new InputError("give --model or --random-init, not both");
  }
  if (f["allow-train"] && !LOOPBACK.has(host) && !f.token) {
    throw new InputError(
      `--allow-train on ${host} (beyond loopback) needs --token, so that strangers cannot train`,
    );
  }

  const precision = precisionFlag(f.precision, ["f32", "f16"] as const, "f32");
  const gpu = withPrecision(await getGpu(), precision);
  console.log(adapterLine(gpu));
  const model = await openModel(gpu, {
    model: f.model,
    randomInit: f["random-init"],
    preset: f.config,
  });
  const modelDir = f["random-init"] ? undefined : f.model ?? DEFAULT_MODEL_DIR;
  console.log(`model: ${modelDir ?? `random init (${f.config ?? "compact"}, untrained)`}`);
  const app = createApp({
    gpu,
    model,
    modelDir,
    allowTrain: f["allow-train"],
    token: f.token,
    warm: true,
  });
  const server = Deno.serve({
    hostname: host,
    port,
    onListen: ({ hostname, port }) => {
      const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
      console.log(`listening on http://${shown}:${port}/`);
      if (f["allow-train"]) console.log("training jobs: allowed");
    },
  }, app.handler);
  const started = performance.now();
  app.warmup.then(() =>
    console.log(`sampler ready (${((performance.now() - started) / 1000).toFixed(1)} s warm-up)`)
  );
  const stop = () => {
    server.shutdown();
    app.close();
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await server.finished;
}
