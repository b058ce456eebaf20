// conv2dUpsampledInput: nearest-x2(x) written into a conv's packed input gives the conv's output
// and weight gradient of the float64 reference, and the upsampled activation is never stored.
import assert from "node:assert/strict";
import {
  conv2dBackward,
  conv2dForward,
  type Conv2dShape,
  conv2dUpsampledInput,
  type ConvInputSlot,
} from "../../../gpu/ops/conv2d/conv2d.ts";
import { withProfile } from "../../../gpu/runtime/device.ts";
import { runNow } from "../../../gpu/runtime/kernel.ts";
import { LLVMPIPE } from "../../../gpu/runtime/profiles/llvmpipe.ts";
import { conv3x3Reference } from "./conv3x3_reference.ts";
import { assertClose, getGpu, gpuTensor, makeRng, poisoned, randn, read } from "../../util.ts";

for (const [channels, height, width, outChannels] of [[8, 4, 8, 6], [4, 4, 4, 4], [12, 3, 4, 8]]) {
  Deno.test(`conv2dUpsampledInput: ${channels} channels, ${height}x${width} -> ${2 * height}x${2 * width}, into a 3x3 conv`, async () => {
    const gpu = withProfile(await getGpu(), LLVMPIPE);
    const rng = makeRng();
    const batch = 2, H2 = 2 * height, W2 = 2 * width;
    const x = randn(rng, batch * channels * height * width);
    const w = randn(rng, outChannels * channels * 9, 0.2);
    const bias = randn(rng, outChannels, 0.1);
    const dy = randn(rng, batch * outChannels * H2 * W2);
    const u = new Float64Array(batch * channels * H2 * W2);
    for (let p = 0; p < batch * channels; p++) {
      for (let i = 0; i < H2; i++) {
        for (let j = 0; j < W2; j++) {
          u[(p * H2 + i) * W2 + j] = x[(p * height + (i >> 1)) * width + (j >> 1)];
        }
      }
    }
    const shape: Conv2dShape = {
      batch,
      inChannels: channels,
      outChannels,
      height: H2,
      width: W2,
      kernel: 3,
      stride: 1,
    };
    const ref = conv3x3Reference(u, w, bias, dy, shape);
    const ut = poisoned(gpu, [batch, channels, H2, W2], "u");
    const xt = gpuTensor(gpu, x, [batch, channels, height, width]);
    const fused = await conv2dUpsampledInput(gpu, { x: xt, y: ut, shape });
    assert.ok(fused, "the llvmpipe profile takes the fused path at this shape");
    const slot: ConvInputSlot = { written: fused.written };
    const y = poisoned(gpu, [batch, outChannels, H2, W2]);
    const dWeight = poisoned(gpu, [outChannels, channels, 3, 3]);
    const weight = gpuTensor(gpu, w, [outChannels, channels, 3, 3]);
    await runNow(gpu, [
      ...fused.dispatches,
      ...await conv2dForward(gpu, {
        x: ut,
        weight,
        bias: gpuTensor(gpu, bias, [outChannels]),
        y,
        shape,
        inputSlot: slot,
      }),
      ...await conv2dBackward(gpu, {
        x: ut,
        weight,
        dy: gpuTensor(gpu, dy, [batch, outChannels, H2, W2]),
        dWeight,
        shape,
        inputSlot: slot,
      }),
    ]);
    assertClose(await read(gpu, y), ref.y, 1e-5, "conv output", rng.seed);
    assertClose(await read(gpu, dWeight), ref.dWeight, 1e-5, "weight gradient", rng.seed);
    assert.ok(
      (await read(gpu, ut)).every(Number.isNaN),
      "the upsampled activation is never stored",
    );
  });
}

Deno.test("conv2dUpsampledInput declines widths that are not whole texels", async () => {
  const gpu = withProfile(await getGpu(), LLVMPIPE);
  const shape: Conv2dShape = {
    batch: 1,
    inChannels: 4,
    outChannels: 4,
    height: 4,
    width: 4,
    kernel: 3,
    stride: 1,
  };
  const x = poisoned(gpu, [1, 4, 2, 2]);
  assert.equal(
    await conv2dUpsampledInput(gpu, { x, y: poisoned(gpu, [1, 4, 4, 4]), shape }),
    null,
  );
});
