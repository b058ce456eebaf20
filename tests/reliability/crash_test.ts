// Crash safety of checkpoints. kill -9 at seeded random points of a loop of checkpoint writes (each
// rename slowed so that kills land between any two steps of the swap), each followed by what the
// next start does: the folder is whole (a complete copy promoted if the kill came between the two
// renames, which before left no checkpoint/ 4 times in 5) and no side folder is left. Then
// `deno task train` killed at random points and resumed until it ends: one log line per epoch
// (before, a resumed run logged epochs twice), and the run's checkpoint complete.
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { readFolderFiles, recoverCheckpointFolder } from "../../data/model_folder.ts";
import { readTrainingState, RunFolder } from "../../data/run_folder.ts";
import { makeRng } from "../util.ts";
import { ROOT, tinyConfigFile, tinyTrainingSet } from "./helpers.ts";

const KILLS = Number(Deno.env.get("CRASH_KILLS") ?? 8);
const KILLED_STARTS = Number(Deno.env.get("CRASH_KILLED_STARTS") ?? 1);
const FILES = ["config.json", "diffusion_pytorch_model.safetensors", "sprite_diffusion.json"];

async function sideFolders(parent: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(parent)) if (/\.(tmp|new|old)-/.test(e.name)) out.push(e.name);
  return out;
}

/** Spawns `args`, kills it with SIGKILL `afterMs` after its first output line, returns its output. */
async function killAfter(args: string[], afterMs: number, cwd = ROOT): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  let started: () => void;
  const first = new Promise<void>((r) => started = r);
  const read = async (s: ReadableStream<Uint8Array>) => {
    const d = new TextDecoder();
    for await (const b of s) {
      text += d.decode(b, { stream: true });
      if (text.includes("\n")) started();
    }
  };
  const reading = Promise.all([read(child.stdout), read(child.stderr)]);
  const status = child.status;
  await Promise.race([first, status]);
  await new Promise((r) => setTimeout(r, afterMs));
  try {
    child.kill("SIGKILL");
  } catch { /* it ended first */ }
  await status;
  await reading;
  return text;
}

Deno.test("crash: kill -9 anywhere in a checkpoint swap leaves a whole folder after recovery", async () => {
  const parent = await Deno.makeTempDir({ prefix: "crash_swap_" });
  const dir = `${parent}/checkpoint`;
  const rng = makeRng(77);
  let promoted = 0;
  let last = 0;
  try {
    for (let round = 0; round < KILLS; round++) {
      const out = await killAfter(
        ["run", "-A", `${ROOT}tests/reliability/checkpoint_writer.ts`, dir],
        40 + Math.floor(rng.next() * 360),
      );
      const written = [...out.matchAll(/wrote (\d+)/g)].map((m) => Number(m[1]));
      // What the next start does before it reads (a reader promotes; the writer also cleans).
      const repaired = await recoverCheckpointFolder(dir, { clean: true });
      if (repaired.promoted) promoted++;
      if (!written.length && last === 0) {
        // Killed before its first swap finished: no checkpoint yet is a valid state.
        try {
          await Deno.stat(dir);
        } catch {
          continue;
        }
      }
      const files = await readFolderFiles(dir, FILES);
      assertEquals([...files.keys()].sort(), [...FILES].sort(), `round ${round}: files`);
      const versions = new Set(
        [files.get("config.json")!, files.get("sprite_diffusion.json")!].map((b) =>
          JSON.parse(new TextDecoder().decode(b)).version
        ),
      );
      assertEquals(versions.size, 1, `round ${round}: one version in every file`);
      const version = [...versions][0];
      ok(files.get(FILES[1])!.every((b) => b === version % 256), `round ${round}: weights`);
      // Never older than the last version the writer saw in place.
      ok(
        version >= (written.at(-1) ?? 0),
        `round ${round}: version ${version} < ${written.at(-1)}`,
      );
      last = version;
      assertEquals(await sideFolders(parent), [], `round ${round}: side folders left`);
    }
    console.log(`${KILLS} kills; ${promoted} needed a complete copy promoted`);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("crash: deno task train killed at random points resumes to the end, one log line per epoch", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crash_train_" });
  const rng = makeRng(78);
  try {
    const data = await tinyTrainingSet(dir, 8);
    const config = await tinyConfigFile(dir);
    const run = `${dir}/run`;
    const epochs = 3;
    const train = ["run", "-A", "--config", `${ROOT}deno.json`, `${ROOT}main.ts`, "train"];
    const fresh = [
      ...train,
      ...["--config", config, "--sprites", data.sprites, "--labels", data.labels, "--no-clean"],
      ...["--batch", "4", "--epochs", String(epochs), "--seed", "1", "--log-every", "1"],
      ...["--out", run],
    ];
    const resume = [...train, "--resume", run, "--log-every", "1"];
    let starts = 0;
    for (; starts < KILLED_STARTS; starts++) {
      const started = await Deno.stat(`${run}/checkpoint`).then(() => true, () => false);
      const out = await killAfter(
        starts === 0 || !started ? fresh : resume,
        1500 + rng.next() * 2500,
      );
      if (/finished all/.test(out)) break;
    }
    // Then to the end, unkilled.
    const started = await Deno.stat(`${run}/checkpoint`).then(() => true, () => false);
    const last = await new Deno.Command(Deno.execPath(), {
      args: started ? resume : fresh,
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(last.stderr);
    ok(last.code === 0 || /finished all/.test(text), text);
    const log = (await Deno.readTextFile(`${run}/train_log.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l).epoch);
    assertEquals(log, Array.from({ length: epochs }, (_, i) => i + 1), "one line per epoch");
    const saved = await readTrainingState(`${run}/checkpoint`);
    assertEquals(saved.state.epoch, epochs);
    assertEquals(saved.lastEpoch?.epoch, epochs);
    assertEquals(await sideFolders(run), []);
    console.log(`${starts} killed starts, then one to the end`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("crash: a resumed run's log loses no epoch and repeats none", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crash_log_" });
  try {
    const store = new RunFolder(dir);
    const line = (epoch: number) => JSON.stringify({ epoch, mean_loss: 0.5 }) + "\n";
    const saved = (epoch: number) => ({
      recipe: {} as never,
      state: { epoch, stepInEpoch: 0, step: epoch * 2, epochLossSum: 0 },
      extra: {},
      lastEpoch: { epoch, mean_loss: 0.25 },
    });
    // Killed between the checkpoint of epoch 3 and its line, mid-append of nothing.
    await Deno.writeTextFile(store.logPath, line(1) + line(2));
    assertEquals(await store.completeLog(saved(3)), { dropped: 0, appended: true });
    // A line cut short, and one past the checkpoint (written by an older version before its save).
    await Deno.writeTextFile(store.logPath, line(1) + line(2) + line(3) + '{"epoch": 4, "me');
    assertEquals(await store.completeLog(saved(2)), { dropped: 2, appended: false });
    const epochs = (await Deno.readTextFile(store.logPath)).trim().split("\n")
      .map((l) => JSON.parse(l).epoch);
    assertEquals(epochs, [1, 2]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
