import { gatherBatch, uploadDataset } from "../../gpu/ops/gather.ts";
import { runNow } from "../../gpu/runtime/kernel.ts";
import { tensorFrom, upload } from "../../gpu/runtime/tensor.ts";
import { assertClose, getGpu, makeRng, poisoned, read } from "../util.ts";

Deno.test("gatherBatch: HWC uint8 images to NCHW f32 in [-1, 1], any indices", async () => {
  const gpu = await getGpu();
  const rng = makeRng();
  // 5x7x3 = 105 bytes per image: images start mid-word.
  const count = 13, height = 5, width = 7, channels = 3, batch = 6;
  const imageBytes = height * width * channels;
  const bytes = Uint8Array.from({ length: count * imageBytes }, () => Math.floor(rng.next() * 256));
  bytes[0] = 0;
  bytes[bytes.length - 1] = 255;
  const dataset = uploadDataset(gpu, bytes, count, height, width, channels);
  const idx = Uint32Array.from({ length: batch }, () => Math.floor(rng.next() * count));
  idx[0] = 0;
  idx[1] = count - 1; // the last image ends at the dataset's last byte
  idx[2] = idx[3]; // repeats are allowed (sampling with replacement)
  const indices = tensorFrom(gpu, idx, [batch], "indices");
  const out = poisoned(gpu, [batch, channels, height, width]);
  const gather = await gatherBatch(gpu, { dataset, indices, out, batch, height, width, channels });

  const expected = (ix: Uint32Array) => {
    const e = new Float64Array(batch * channels * height * width);
    for (let b = 0; b < batch; b++) {
      for (let c = 0; c < channels; c++) {
        for (let s = 0; s < height * width; s++) {
          e[(b * channels + c) * height * width + s] =
            bytes[ix[b] * imageBytes + s * channels + c] / 255 * 2 - 1;
        }
      }
    }
    return e;
  };
  await runNow(gpu, [gather]);
  assertClose(await read(gpu, out), expected(idx), 1e-6, "gather", rng.seed);

  // New indices each step through the same dispatch.
  const idx2 = Uint32Array.from({ length: batch }, () => Math.floor(rng.next() * count));
  upload(gpu, indices, idx2);
  await runNow(gpu, [gather]);
  assertClose(await read(gpu, out), expected(idx2), 1e-6, "gather step 2", rng.seed);
});
