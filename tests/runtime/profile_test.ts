// Backend profiles: which adapters get which profile, what every profile must hold for the kernels
// to be correct (the ops' tests run under each one), and how the adapter line names them.
import assert from "node:assert/strict";
import {
  adapterLine,
  defaultPrecision,
  profileFor,
  PROFILES,
  withPrecision,
  withProfile,
} from "../../gpu/runtime/device.ts";
import type { Precision } from "../../gpu/runtime/profile.ts";
import { DISCRETE_GPU } from "../../gpu/runtime/profiles/discrete_gpu.ts";
import { LLVMPIPE } from "../../gpu/runtime/profiles/llvmpipe.ts";
import { getGpu } from "../util.ts";

Deno.test("profileFor: CPU adapters get the llvmpipe profile, every other adapter the discrete one", () => {
  for (
    const description of [
      "llvmpipe (LLVM 15.0.6, 256 bits)",
      "lavapipe",
      "SwiftShader Device (Subzero)",
      "Microsoft Basic Render Driver (software)",
    ]
  ) {
    assert.equal(profileFor(description, false), LLVMPIPE, description);
  }
  assert.equal(profileFor("NVIDIA H100 80GB HBM3", true), LLVMPIPE, "a fallback adapter");
  for (
    const description of ["NVIDIA H100 80GB HBM3", "AMD Radeon RX 7900 XTX", "unknown adapter"]
  ) {
    assert.equal(profileFor(description, false), DISCRETE_GPU, description);
  }
});

Deno.test("PROFILES: unique names, and the last one takes any adapter", () => {
  assert.equal(new Set(PROFILES.map((p) => p.name)).size, PROFILES.length);
  assert.ok(PROFILES.at(-1)!.matches({ description: "", isFallback: false }));
  assert.ok(PROFILES.includes(LLVMPIPE) && PROFILES.includes(DISCRETE_GPU));
});

Deno.test("every profile: f16 operands on textures, and tiles the kernels can build", () => {
  for (const p of PROFILES) {
    // f16 operands exist only in rgba16float textures: a buffer technique would not round them.
    const f16 = p.operands.f16;
    assert.deepEqual(
      [f16.matmul.technique, f16.conv2d.forward, f16.conv2d.inputGrad, f16.conv2d.weightGrad],
      ["texture", "texture", "texture", "texture"],
      `${p.name} f16`,
    );
    for (const precision of ["f32", "f16"] as Precision[]) {
      const plan = p.operands[precision];
      const what = `${p.name} ${precision}`;
      for (const tile of [plan.textureTile, ...plan.textureTileChoices ?? []]) {
        assert.ok(tile.TN % 4 === 0, `${what}: texture tile TN ${tile.TN} is vec4 columns`);
      }
      const kernel = plan.matmul.bufferKernel;
      if (kernel.kind === "registerTile") assert.ok(kernel.tile.TN % 4 === 0, what);
      else assert.ok(kernel.tile === 64 && kernel.kTile % 4 === 0, `${what}: 16x16 threads of 4x4`);
      for (const s of [plan.matmul.splitK, plan.conv2d.implicitGemmSplitK]) {
        assert.ok(s.wantTiles >= 1 && s.minChunk >= 4, what);
      }
    }
    const wg = p.groupNorm.workgroupSize;
    if (p.groupNorm.reducer === "workgroup") {
      assert.ok(wg >= 1 && (wg & (wg - 1)) === 0, `${p.name}: the reduction tree needs 2^n`);
    }
  }
});

Deno.test("withProfile: the same device with another profile; adapterLine names kind and profile", async () => {
  const gpu = await getGpu();
  // As acquired: a CPU adapter has the llvmpipe profile, a GPU the discrete one.
  assert.equal(gpu.profile, gpu.adapterKind === "cpu" ? LLVMPIPE : DISCRETE_GPU);
  for (const profile of PROFILES) {
    const other = withPrecision(withProfile(gpu, profile), "f16");
    assert.equal(other.device, gpu.device);
    assert.equal(other.profile, profile);
    assert.equal(other.adapterKind, gpu.adapterKind);
    assert.equal(defaultPrecision(other), profile.autoPrecision);
    const line = adapterLine(other);
    assert.ok(line.startsWith(`adapter: ${gpu.description} [`), line);
    assert.ok(line.includes(`[${gpu.adapterKind}, ${profile.name} profile]`), line);
  }
});
