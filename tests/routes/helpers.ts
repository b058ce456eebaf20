// A tiny random-init model and a running server for the route, queue and browser tests: the same
// topology as the shipped model (two levels, cross-attention at the lowest) at a size that samples
// in milliseconds on llvmpipe.
import type { Gpu } from "../../gpu/runtime/device.ts";
import { randomSpriteModel, type SpriteModel } from "../../gpu/model/sprite_model.ts";
import { tinyConfig } from "../util.ts";
import { type App, type AppOptions, createApp } from "../../routes/app.ts";

export { tinyConfig };

export function tinyModel(gpu: Gpu, seed = 7): SpriteModel {
  return randomSpriteModel(gpu, tinyConfig, seed);
}

export interface TestServer {
  url: string;
  app: App;
  close: () => Promise<void>;
}

/** Serves the app on a free loopback port. */
export function startTestServer(
  gpu: Gpu,
  opts: Partial<AppOptions> = {},
): TestServer {
  const app = createApp({ gpu, model: tinyModel(gpu), ...opts });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.handler);
  const { port } = server.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    close: async () => {
      await server.shutdown();
      await app.close();
    },
  };
}
