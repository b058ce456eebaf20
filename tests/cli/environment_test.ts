// Every command starts quiet: without XDG_RUNTIME_DIR, Mesa's loader prints two warnings per
// process unless cli/environment.ts (imported first by main.ts) has set a private folder.
import { ok } from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

/** stderr of `code` run with the permissions the tasks grant (no --allow-sys, no --allow-run). */
async function stderrOf(code: string): Promise<string> {
  const env = Deno.env.toObject();
  delete env.XDG_RUNTIME_DIR;
  const script = await Deno.makeTempFile({ dir: ROOT, prefix: ".env-test-", suffix: ".ts" });
  await Deno.writeTextFile(script, code);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", script],
    cwd: ROOT,
    env,
    clearEnv: true,
    stdout: "null",
    stderr: "piped",
  }).output().finally(() => Deno.remove(script));
  const text = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`the process failed: ${text}`);
  return text;
}

const ADAPTER = "await navigator.gpu.requestAdapter();";

Deno.test("no XDG_RUNTIME_DIR warning once cli/environment.ts has run; main.ts imports it first", async () => {
  const bare = await stderrOf(ADAPTER);
  const prepared = await stderrOf(`import "./cli/environment.ts"; ${ADAPTER}`);
  ok(!prepared.includes("XDG_RUNTIME_DIR"), prepared);
  // Where this Mesa warns at all, the bare process shows what the import prevents.
  if (bare.includes("XDG_RUNTIME_DIR")) ok(bare.includes("error: XDG_RUNTIME_DIR"), bare);
  const main = await Deno.readTextFile(`${ROOT}main.ts`);
  const firstImport = main.split("\n").find((l) => l.startsWith("import "));
  ok(firstImport === 'import "./cli/environment.ts";', `main.ts starts with ${firstImport}`);
});
