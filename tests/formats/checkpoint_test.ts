// The checkpoint codec alone, in memory (what a page does with fetched files): files out, the same
// contents back, and each broken file named in its error.
import assert from "node:assert/strict";
import {
  CHECKPOINT_FILES,
  decodeCheckpoint,
  encodeCheckpoint,
} from "../../gpu/formats/checkpoint.ts";
import { CheckpointError } from "../../gpu/runtime/errors.ts";
import { makeRng, randn } from "../util.ts";

const rng = makeRng();
const contents = () => ({
  config: { _class_name: "UNet2DConditionModel", sample_size: 8 },
  unet: [["conv_in.weight", [4, 3, 3, 3], Float32Array.from(randn(rng, 108))]] as [
    string,
    number[],
    Float32Array,
  ][],
  embedding: [["0.weight", [2, 5], Float32Array.from(randn(rng, 10))]] as [
    string,
    number[],
    Float32Array,
  ][],
  info: { class_names: ["a", "b"], epoch: 3 },
  extraFiles: { "notes.txt": new TextEncoder().encode("hi") },
});

Deno.test("checkpoint codec: encode then decode gives the contents back", () => {
  const c = contents();
  const files = encodeCheckpoint("ckpt", c);
  assert.deepEqual(
    [...files.keys()].sort(),
    [
      CHECKPOINT_FILES.config,
      CHECKPOINT_FILES.unet,
      CHECKPOINT_FILES.embedding,
      CHECKPOINT_FILES.info,
      "notes.txt",
    ].sort(),
  );
  const back = decodeCheckpoint("ckpt", files);
  assert.deepEqual(back.config, c.config);
  assert.deepEqual(back.info, c.info);
  assert.deepEqual(back.unet.get("conv_in.weight")!.data, c.unet[0][2]);
  assert.deepEqual(back.embedding!.get("0.weight")!.shape, [2, 5]);
  // A plain diffusers folder: config and UNet only.
  const plain = new Map([...files].filter(([n]) => n === "config.json" || n.startsWith("diff")));
  const p = decodeCheckpoint("unet", plain);
  assert.equal(p.embedding, undefined);
  assert.equal(p.info, undefined);
});

Deno.test("checkpoint codec: each broken or missing file is named", () => {
  const files = encodeCheckpoint("ckpt", contents());
  const broken = (name: string, bytes?: Uint8Array) => {
    const copy = new Map(files);
    if (bytes) copy.set(name, bytes);
    else copy.delete(name);
    return copy;
  };
  const cases: [Map<string, Uint8Array>, RegExp][] = [
    [broken(CHECKPOINT_FILES.config), /checkpoint ckpt has no config\.json/],
    [broken(CHECKPOINT_FILES.unet), /has no diffusion_pytorch_model\.safetensors/],
    [
      broken(CHECKPOINT_FILES.config, new TextEncoder().encode("{")),
      /ckpt\/config\.json is not valid JSON/,
    ],
    [
      broken(CHECKPOINT_FILES.info, new TextEncoder().encode("[1]")),
      /sprite_diffusion\.json does not hold a JSON object/,
    ],
    [broken(CHECKPOINT_FILES.embedding, new Uint8Array(3)), /ckpt\/emb_net\.safetensors: /],
  ];
  for (const [f, pattern] of cases) {
    assert.throws(() => decodeCheckpoint("ckpt", f), (e: unknown) => {
      assert.ok(e instanceof CheckpointError, String(e));
      assert.match((e as Error).message, pattern);
      return true;
    });
  }
  for (const name of ["../x", "config.json", ".hidden"]) {
    assert.throws(
      () => encodeCheckpoint("ckpt", { ...contents(), extraFiles: { [name]: new Uint8Array() } }),
      /extra file name .* not allowed/,
    );
  }
});
