// The page's own engine: the model's checkpoint files fetched once (the browser's HTTP cache keeps
// them between visits), decoded and run by the engine's own kernels on the visitor's WebGPU. A
// request is read by the server's parser (gpu/sample/request.ts) with the server's bounds, so the
// same fields give the same sprites, layout and refusals on both sides. Nothing here needs a DOM:
// Deno's tests run it as the page does.
import { CHECKPOINT_FILES, decodeCheckpoint } from "../gpu/formats/checkpoint.ts";
import { type SpriteModel, spriteModelFromCheckpoint } from "../gpu/model/sprite_model.ts";
import { type Gpu, GpuUnavailableError, requestGpu } from "../gpu/runtime/device.ts";
import { CheckpointError } from "../gpu/runtime/errors.ts";
import { parseSamplingRequest, type SamplingLimits } from "../gpu/sample/request.ts";
import type { SamplingRequest } from "../gpu/sample/request.ts";
import { type SampleProgress, SpriteSampler } from "../gpu/sample/sampler.ts";

/** The server's bounds on one request (routes/context.ts), so a request means the same here. */
export const ON_DEVICE_LIMITS: SamplingLimits = { maxCount: 64, maxPerClass: 16, maxScale: 16 };

/** Where the server serves the model's files (routes/model_files.ts). */
export const SERVER_MODEL_URL = "/api/model/files/";

export interface OnDeviceSprites {
  request: SamplingRequest;
  /** uint8 [count, size, size, 3], as the server's sampler gives them. */
  sprites: Uint8Array;
  size: number;
  /** Time on the GPU, from the first dispatch to the readback. */
  ms: number;
}

export interface OnDevice {
  gpu: Gpu;
  model: SpriteModel;
  /** generate(fields) reads the fields of /api/generate: class, classes or labels, count, ... */
  generate(fields: Record<string, unknown>, onProgress?: SampleProgress): Promise<OnDeviceSprites>;
}

/** Whether this browser gives a WebGPU adapter at all (no device is made). */
export async function webGpuAdapter(): Promise<boolean> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

/**
 * Fetches the checkpoint's files under `baseUrl` (config and UNet weights required, the embedding
 * net and our JSON where present), builds the model on a device within WebGPU's default limits
 * and returns its sampler. Throws GpuUnavailableError without an adapter, CheckpointError for
 * files that are missing or wrong.
 */
export async function loadOnDevice(baseUrl: string, gpu?: Gpu): Promise<OnDevice> {
  const base = baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`;
  const files = new Map<string, Uint8Array>();
  const optional = new Set<string>([CHECKPOINT_FILES.embedding, CHECKPOINT_FILES.info]);
  await Promise.all(
    Object.values(CHECKPOINT_FILES).map(async (name) => {
      const res = await fetch(new URL(name, new URL(base, globalThis.location?.href)));
      if (res.ok) files.set(name, new Uint8Array(await res.arrayBuffer()));
      else {
        await res.body?.cancel();
        if (!optional.has(name) || res.status !== 404) {
          throw new CheckpointError(`${base}${name}: ${res.status} ${res.statusText}`.trim());
        }
      }
    }),
  );
  gpu ??= await requestGpu({ largeBuffers: false, timestamps: false });
  const model = spriteModelFromCheckpoint(gpu, decodeCheckpoint(base, files), base);
  const sampler = new SpriteSampler(gpu, model);
  // One program runs at a time: a request writes the program's inputs before it is submitted.
  let queue: Promise<unknown> = Promise.resolve();
  return {
    gpu,
    model,
    async generate(fields, onProgress) {
      const request = parseSamplingRequest(fields, {
        classNames: model.classNames,
        limits: ON_DEVICE_LIMITS,
        forms: ["class", "classes", "labels"],
        defaultCount: 8,
      });
      const run = queue.then(async () => {
        const started = performance.now();
        const sprites = await sampler.generate(request.job, onProgress);
        const ms = Math.round(performance.now() - started);
        return { request, sprites, size: sampler.size, ms };
      });
      queue = run.catch(() => {});
      return await run;
    },
  };
}

export { GpuUnavailableError };
