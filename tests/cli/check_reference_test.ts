// `deno task check-reference` end to end: passes on diffusers' fixture, fails (exit 1) and names
// the tensors when one weight is changed.
import assert from "node:assert/strict";
import { readSafetensors, writeSafetensors } from "../../gpu/formats/safetensors.ts";
import { makeRng } from "../util.ts";

const FIXTURES = new URL("../../../shared/fixtures/diffusers-ref/", import.meta.url).pathname;
const MAIN = new URL("../../main.ts", import.meta.url).pathname;

async function checkReference(model: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "check-reference",
      "--model",
      model,
      "--case",
      `${FIXTURES}unet_small_case.safetensors`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

Deno.test("check-reference passes on the diffusers fixture", async () => {
  const { code, text } = await checkReference(`${FIXTURES}unet_small`);
  assert.equal(code, 0, text);
  assert.match(text, /PASS: 295 tensors within 0\.0001/);
  assert.match(text, /param grads\s+250/);
});

Deno.test("check-reference fails with exit code 1 when a weight is off", async () => {
  const rng = makeRng();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${FIXTURES}unet_small/config.json`, `${dir}/config.json`);
    const weights = readSafetensors(
      await Deno.readFile(`${FIXTURES}unet_small/diffusion_pytorch_model.safetensors`),
    );
    const tensors = [...weights].map(([name, t]) => [name, t.shape, t.data.slice()] as const);
    const [, , conv] = tensors.find(([name]) => name === "conv_out.weight")!;
    conv[Math.floor(rng.next() * conv.length)] += 0.05;
    await Deno.writeFile(
      `${dir}/diffusion_pytorch_model.safetensors`,
      writeSafetensors(tensors.map(([n, s, d]) => [n, [...s], d])),
    );
    const { code, text } = await checkReference(dir);
    assert.equal(code, 1, text);
    assert.match(text, /FAIL output\.sample/);
    assert.match(text, /FAIL: \d+ of 295 tensors over 0\.0001/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
