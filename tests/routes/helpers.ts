// A tiny random-init model and a running server for the route, queue, reliability and browser
// tests: the same topology as the shipped model (two levels, cross-attention at the lowest) at a
// size that samples in milliseconds on llvmpipe. The server is the real one: the GPU worker behind
// the app, behind the relay with its timeouts (routes/server.ts), on a free loopback port.
import type { Gpu } from "../../gpu/runtime/device.ts";
import { randomSpriteModel, type SpriteModel } from "../../gpu/model/sprite_model.ts";
import { tinyConfig } from "../util.ts";
import { type App, type AppOptions, createApp } from "../../routes/app.ts";
import { serve, type Server, type ServerOptions } from "../../routes/server.ts";

export { tinyConfig };

export function tinyModel(gpu: Gpu, seed = 7): SpriteModel {
  return randomSpriteModel(gpu, tinyConfig, seed);
}

export interface TestServer {
  url: string;
  port: number;
  app: App;
  server: Server;
  close: () => Promise<void>;
}

/** The app with a tiny random model (seed 7) unless `opts.model` names another. */
export async function startTestServer(
  opts: Partial<AppOptions> = {},
  server: Partial<ServerOptions> = {},
): Promise<TestServer> {
  const app = await createApp({ model: { kind: "random", config: tinyConfig, seed: 7 }, ...opts });
  const s = await serve(app.handler, { hostname: "127.0.0.1", port: 0, ...server });
  const { port } = s.addr;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    app,
    server: s,
    close: async () => {
      await app.close();
      await s.shutdown();
    },
  };
}
