import {
  loadCheckpointFolder,
  recoverCheckpointFolder,
  saveCheckpointFolder,
  writeFolderFiles,
} from "../../data/model_folder.ts";
import { CHECKPOINT_FILES, checkTensors } from "../../gpu/formats/checkpoint.ts";
import { CheckpointError } from "../../gpu/runtime/errors.ts";
import type { NamedTensor } from "../../gpu/formats/safetensors.ts";
import { makeRng, randn, type Rng } from "../util.ts";

const UNET_FIXTURE = new URL("../../../shared/fixtures/diffusers-ref/unet_small", import.meta.url)
  .pathname;

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

async function assertRejects(fn: () => Promise<unknown>, pattern: RegExp, what: string) {
  try {
    await fn();
  } catch (e) {
    check(e instanceof CheckpointError, `${what}: threw ${e}, not a CheckpointError`);
    check(
      pattern.test((e as Error).message),
      `${what}: "${(e as Error).message}" lacks ${pattern}`,
    );
    return;
  }
  throw new Error(`${what}: did not throw`);
}

function assertThrowsCheckpoint(fn: () => unknown, pattern: RegExp, what: string) {
  try {
    fn();
  } catch (e) {
    check(e instanceof CheckpointError, `${what}: threw ${e}`);
    check(
      pattern.test((e as Error).message),
      `${what}: "${(e as Error).message}" lacks ${pattern}`,
    );
    return;
  }
  throw new Error(`${what}: did not throw`);
}

function tensors(rng: Rng, spec: [string, number[]][]): NamedTensor[] {
  return spec.map(([name, shape]) => [
    name,
    shape,
    Float32Array.from(randn(rng, shape.reduce((a, b) => a * b, 1))),
  ]);
}

const sameTensor = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && a.every((v, i) => v === b[i]);

Deno.test("save then load round-trips config, UNet, embedding and info; overwrite is atomic", async () => {
  const rng = makeRng();
  const root = await Deno.makeTempDir();
  try {
    const dir = `${root}/ckpt`;
    const config = { _class_name: "UNet2DConditionModel", block_out_channels: [16, 24, 32] };
    const unet = tensors(rng, [["conv_in.weight", [16, 3, 3, 3]], ["conv_in.bias", [16]]]);
    const embedding = tensors(rng, [
      ["0.weight", [32, 5]],
      ["0.bias", [32]],
      ["3.weight", [64, 32]],
      ["3.bias", [64]],
    ]);
    const info = { class_names: ["hero", "tree"], epoch: 7, recipe: { lr: 1e-3 } };
    await saveCheckpointFolder(dir, { config, unet, embedding, info });

    const back = await loadCheckpointFolder(dir);
    check(JSON.stringify(back.config) === JSON.stringify(config), "config");
    check(JSON.stringify(back.info) === JSON.stringify(info), "info");
    for (
      const [which, list, map] of [["unet", unet, back.unet], [
        "emb",
        embedding,
        back.embedding!,
      ]] as const
    ) {
      check(map.size === list.length, `${which} count`);
      for (const [name, shape, data] of list) {
        const t = map.get(name)!;
        check(
          t.shape.join() === shape.join() && sameTensor(t.data, data),
          `${which} ${name} (seed ${rng.seed})`,
        );
      }
      check(map.metadata.format === "pt", `${which} metadata`);
    }

    // Overwrite: the new contents replace the old, no temporary folders stay behind.
    await saveCheckpointFolder(dir, { config, unet: unet.slice(0, 1), info: { epoch: 8 } });
    const again = await loadCheckpointFolder(dir);
    check(again.unet.size === 1 && again.embedding === undefined, "overwrite replaced the folder");
    check(again.info?.epoch === 8, "overwritten info");

    // A failing save (a bad tensor) leaves the previous checkpoint whole.
    await assertRejects(
      () => saveCheckpointFolder(dir, { config, unet: [["w", [3], new Float32Array(2)]], info }),
      /diffusion_pytorch_model\.safetensors: .*\(w\)/,
      "bad tensor on save",
    );
    check((await loadCheckpointFolder(dir)).info?.epoch === 8, "previous checkpoint intact");
    const left = [];
    for await (const e of Deno.readDir(root)) left.push(e.name);
    check(left.join() === "ckpt", `leftovers in the parent folder: ${left}`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loads the diffusers fixture folder (no embedding, no info)", async () => {
  const c = await loadCheckpointFolder(UNET_FIXTURE);
  check(c.config._class_name === "UNet2DConditionModel", "config class");
  check(JSON.stringify(c.config.block_out_channels) === "[16,24,32]", "block_out_channels");
  check(c.unet.size === 250, `unet has ${c.unet.size} tensors`);
  check(c.embedding === undefined && c.info === undefined, "optional parts absent");
  // Its own tensor list passes checkTensors.
  const expected = [...c.unet].map(([name, t]) => ({ name, shape: t.shape }));
  checkTensors(expected, c.unet, "unet");
});

Deno.test("each broken folder fails with an error naming the folder or file", async () => {
  const root = await Deno.makeTempDir();
  try {
    await assertRejects(
      () => loadCheckpointFolder(`${root}/nowhere`),
      /nowhere does not exist/,
      "no folder",
    );
    const dir = `${root}/ckpt`;
    await Deno.mkdir(dir);
    await assertRejects(() => loadCheckpointFolder(dir), /has no config\.json/, "no config");

    await Deno.writeTextFile(`${dir}/${CHECKPOINT_FILES.config}`, "{ broken");
    await assertRejects(
      () => loadCheckpointFolder(dir),
      /config\.json is not valid JSON/,
      "bad config",
    );

    await Deno.writeTextFile(`${dir}/${CHECKPOINT_FILES.config}`, "{}");
    await assertRejects(
      () => loadCheckpointFolder(dir),
      /has no diffusion_pytorch_model\.safetensors/,
      "no weights",
    );

    const weights = await Deno.readFile(`${UNET_FIXTURE}/${CHECKPOINT_FILES.unet}`);
    await Deno.writeFile(
      `${dir}/${CHECKPOINT_FILES.unet}`,
      weights.subarray(0, weights.length - 100),
    );
    await assertRejects(
      () => loadCheckpointFolder(dir),
      /diffusion_pytorch_model\.safetensors: .*outside the .*data section \(truncated file\?\)/,
      "truncated weights",
    );

    await Deno.writeFile(`${dir}/${CHECKPOINT_FILES.unet}`, weights);
    await Deno.writeFile(`${dir}/${CHECKPOINT_FILES.embedding}`, weights.subarray(0, 6));
    await assertRejects(
      () => loadCheckpointFolder(dir),
      /emb_net\.safetensors: .*truncated/,
      "bad emb",
    );

    await Deno.remove(`${dir}/${CHECKPOINT_FILES.embedding}`);
    await Deno.writeTextFile(`${dir}/${CHECKPOINT_FILES.info}`, "[1]");
    await assertRejects(
      () => loadCheckpointFolder(dir),
      /sprite_diffusion\.json does not hold a JSON object/,
      "info",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("checkTensors names the first missing, misshapen or unknown tensor", () => {
  const expected = [{ name: "a", shape: [2, 3] }, { name: "b", shape: [4] }];
  const t = (shape: number[]) => ({ shape });
  checkTensors(expected, new Map([["a", t([2, 3])], ["b", t([4])]]), "ok");
  assertThrowsCheckpoint(
    () => checkTensors(expected, new Map([["a", t([2, 3])]]), "unet"),
    /^unet: missing tensor b \[4\]$/,
    "missing",
  );
  assertThrowsCheckpoint(
    () => checkTensors(expected, new Map([["a", t([3, 2])], ["b", t([4])]]), "unet"),
    /^unet: tensor a has shape \[3,2\], expected \[2,3\]$/,
    "misshapen",
  );
  assertThrowsCheckpoint(
    () => checkTensors(expected, new Map([["a", t([2, 3])], ["b", t([4])], ["c", t([1])]]), "emb"),
    /^emb: unknown tensor c$/,
    "unknown",
  );
  assertThrowsCheckpoint(
    () => checkTensors(expected, new Map([["a", t([2])], ["c", t([1])]]), "unet"),
    /^unet: tensor a has shape \[2\], expected \[2,3\] \(and 2 more problems\)$/,
    "several",
  );
});

Deno.test("a swap cut short by a kill is repaired: complete copy promoted, side folders removed", async () => {
  const root = await Deno.makeTempDir({ prefix: "folder_recover_" });
  const folder = (path: string, version: string) =>
    Deno.mkdir(path, { recursive: true }).then(() =>
      Deno.writeTextFile(`${path}/config.json`, version)
    );
  const version = (path: string) => Deno.readTextFile(`${path}/config.json`);
  const left = async () => {
    const names: string[] = [];
    for await (const e of Deno.readDir(root)) names.push(e.name);
    return names.sort();
  };
  try {
    const dir = `${root}/checkpoint`;
    // Killed between the two renames: no checkpoint, the old one aside, the new one complete.
    await folder(`${dir}.old-100-1-1`, "old");
    await folder(`${dir}.new-100-1-1`, "new");
    await folder(`${dir}.tmp-200-1-1`, "half");
    const reader = await recoverCheckpointFolder(dir);
    check(reader.promoted?.endsWith(".new-100-1-1") === true, JSON.stringify(reader));
    check((await version(dir)) === "new", "the complete copy is in place");
    check((await left()).length === 3, "a reader leaves the other side folders alone");
    const writer = await recoverCheckpointFolder(dir, { clean: true });
    check(writer.removed.length === 2 && (await left()).join() === "checkpoint", "writer cleans");
    // Killed after moving the old one aside, before the new one was complete: the old one returns.
    await Deno.rename(dir, `${dir}.old-300-1-1`);
    await folder(`${dir}.tmp-300-1-1`, "half");
    await recoverCheckpointFolder(dir, { clean: true });
    check((await version(dir)) === "new" && (await left()).join() === "checkpoint", "old back");
    // A save after a kill mid-write cleans up what the kill left.
    await folder(`${dir}.tmp-400-1-1`, "half");
    await writeFolderFiles(dir, new Map([["config.json", new TextEncoder().encode("next")]]));
    check((await version(dir)) === "next" && (await left()).join() === "checkpoint", "saved");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
