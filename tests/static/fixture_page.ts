// The fixture page's script (bundled by fixture_test.ts): diffusers' reference case run by the
// engine on the page's own WebGPU, within the default limits. The files come from the test's
// server; the result is left in `window.fixtureResult` for the test to read. `?profile=NAME` runs
// the kernels of another backend profile (a page on a real GPU gets discrete-gpu's); `?forward`
// checks the forward pass alone (the activations and output.sample: what sampling runs).
import { PROFILES, requestGpu, withProfile } from "../../gpu/runtime/device.ts";
import { parseUNetConfig } from "../../gpu/model/config.ts";
import { checkUNetCase } from "../../gpu/model/reference_check.ts";
import { readSafetensors } from "../../gpu/formats/safetensors.ts";

async function bytes(path: string): Promise<Uint8Array> {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function run() {
  const device = await requestGpu({ largeBuffers: false, timestamps: false });
  const params = new URL(location.href).searchParams;
  const name = params.get("profile");
  const profile = PROFILES.find((p) => p.name === name);
  if (name && !profile) throw new Error(`no profile ${name}`);
  const gpu = profile ? withProfile(device, profile) : device;
  const errors: string[] = [];
  gpu.device.addEventListener("uncapturederror", (e) => {
    errors.push((e as GPUUncapturedErrorEvent).error.message);
  });
  const config = parseUNetConfig(
    JSON.parse(new TextDecoder().decode(await bytes("fixtures/unet_small/config.json"))),
  );
  const weights = readSafetensors(
    await bytes("fixtures/unet_small/diffusion_pytorch_model.safetensors"),
  );
  const c = readSafetensors(await bytes("fixtures/unet_small_case.safetensors"));
  if (params.has("forward")) {
    for (const key of [...c.keys()]) {
      if (key === "target.noise" || key === "loss" || key.startsWith("grad.")) c.delete(key);
    }
  }
  const started = performance.now();
  const { rows, unmatched } = await checkUNetCase(gpu, config, weights, c, { poison: true });
  return {
    adapter: gpu.description,
    profile: gpu.profile.name,
    limits: {
      maxStorageBuffersPerShaderStage: gpu.limits.maxStorageBuffersPerShaderStage,
      maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: gpu.limits.maxComputeWorkgroupStorageSize,
    },
    ms: Math.round(performance.now() - started),
    rows,
    unmatched,
    errors,
  };
}

const w = globalThis as unknown as { fixtureResult?: unknown };
run().then(
  (r) => w.fixtureResult = r,
  (e) => w.fixtureResult = { failed: String((e as Error)?.stack ?? e) },
);
