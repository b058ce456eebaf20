// `deno task start` as a person runs it: the task's own command line from deno.json (its
// permissions, not the tests' --allow-all), in a child process. What goes wrong is one line on
// stderr and exit 2, before the slow work: a port in use is refused before the model loads, and a
// plain diffusers UNet folder names the file it lacks. What goes right starts, answers and stops.
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { startTaskFlags, tinyConfigFile } from "../reliability/helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const UNET = `${ROOT}../shared/fixtures/diffusers-ref/unet_small`;

/** The start task's `deno run` flags, as deno.json spells them. */
function start(args: string[], flags: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, `${ROOT}main.ts`, "serve", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  });
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Runs `start` to its end: exit code, stdout, stderr's lines, seconds. */
async function startToExit(args: string[]) {
  const t0 = performance.now();
  const out = await start(args, await startTaskFlags()).output();
  const stderr = text(out.stderr).trim().split("\n").filter(Boolean);
  return {
    code: out.code,
    stdout: text(out.stdout),
    stderr,
    seconds: (performance.now() - t0) / 1000,
  };
}

Deno.test("start: a port in use is one line and exit 2, before the model is loaded", async () => {
  const held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (held.addr as Deno.NetAddr).port;
  try {
    const r = await startToExit(["--port", String(port)]);
    assertEquals(r.code, 2, r.stderr.join("\n"));
    assertEquals(r.stderr.length, 1, r.stderr.join("\n"));
    ok(
      new RegExp(`^error: port ${port} on 127\\.0\\.0\\.1 is in use .*--port N$`).test(r.stderr[0]),
      r.stderr[0],
    );
    ok(!r.stdout.includes("model:"), `the model was loaded first:\n${r.stdout}`);
  } finally {
    held.close();
  }
});

Deno.test("start: a plain diffusers UNet folder is one line naming the file, exit 2", async () => {
  const r = await startToExit(["--model", UNET, "--port", "0"]);
  assertEquals(r.code, 2, r.stderr.join("\n"));
  assertEquals(r.stderr.length, 1, r.stderr.join("\n"));
  ok(/^error: this model has no class-embedding net \(emb_net\.safetensors\)/.test(r.stderr[0]));
  ok(/0\.weight, 0\.bias, 3\.weight, 3\.bias/.test(r.stderr[0]), "how to add it");
});

Deno.test({
  name: "start: the task's own permissions serve a model; health names the adapter once; SIGTERM",
  sanitizeResources: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "cli_serve_" });
    const child = start(
      ["--random-init", "--config", await tinyConfigFile(tmp), "--port", "0"],
      await startTaskFlags(),
    ).spawn();
    let out = "";
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      for await (const b of stream) out += text(b);
    };
    const reading = Promise.all([collect(child.stdout), collect(child.stderr)]);
    let exited = false;
    child.status.then(() => exited = true);
    const listening = /listening on http:\/\/127\.0\.0\.1:(\d+)\//;
    try {
      for (let i = 0; i < 600 && !exited && !listening.test(out); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const port = listening.exec(out)?.[1];
      ok(port, `it did not start:\n${out}`);
      ok(/^adapter: (?!adapter:)/m.test(out), out);
      const health = await (await fetch(`http://127.0.0.1:${port}/api/health`)).json();
      assertEquals(health.ok, true);
      ok(!/^adapter/.test(health.adapter), `"adapter": "${health.adapter}"`);
    } finally {
      child.kill("SIGTERM");
      const status = await child.status;
      await reading;
      await Deno.remove(tmp, { recursive: true });
      assertEquals(status.code, 0, out);
    }
    ok(/stopped/.test(out), out);
  },
});

Deno.test("start: training data flags are checked before anything loads", async () => {
  const cases: [string[], RegExp][] = [
    [["--sprites", "a.npy", "--labels", "b.npy"], /go with --allow-train|add --allow-train/],
    [["--allow-train", "--sprites", "a.npy"], /give both --sprites and --labels/],
    [["--allow-train", "--sprites", "none.npy", "--labels", "none.npy"], /none\.npy: no such file/],
  ];
  for (const [args, pattern] of cases) {
    const r = await startToExit([...args, "--port", "0"]);
    assertEquals([r.code, r.stderr.length], [2, 1], r.stderr.join("\n"));
    ok(pattern.test(r.stderr[0]), r.stderr[0]);
    ok(!r.stdout.includes("model:"), r.stdout);
  }
});
