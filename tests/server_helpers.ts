// A tiny random-init model and a running server for the route, queue and browser tests: the same
// topology as the shipped model (two levels, cross-attention at the lowest) at a size that samples
// in milliseconds on llvmpipe.
import type { Gpu } from "../gpu/device.ts";
import { randomSpriteModel, type SpriteModel } from "../gpu/sprite_model.ts";
import { parseUNetConfig } from "../gpu/unet_config.ts";
import { type App, type AppOptions, createApp } from "../routes/app.ts";

export const tinyConfig = parseUNetConfig({
  sample_size: 16,
  in_channels: 3,
  out_channels: 3,
  layers_per_block: 1,
  block_out_channels: [8, 16],
  down_block_types: ["DownBlock2D", "CrossAttnDownBlock2D"],
  up_block_types: ["CrossAttnUpBlock2D", "UpBlock2D"],
  norm_num_groups: 4,
  cross_attention_dim: 16,
  attention_head_dim: 2,
  encoder_hid_dim: 8,
});

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
