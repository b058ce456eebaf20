// Every command starts quiet: without XDG_RUNTIME_DIR, Mesa's loader prints two warnings per
// process unless cli/environment.ts (imported first by main.ts) has set a private folder.
import { ok } from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

/** stderr of `code` run with the permissions the tasks grant (no --allow-sys, no --allow-run). */
async function stderrOf(
  code: string,
  permissions = ["--allow-read", "--allow-write", "--allow-env"],
): Promise<string> {
  const env = Deno.env.toObject();
  delete env.XDG_RUNTIME_DIR;
  const script = await Deno.makeTempFile({ dir: ROOT, prefix: ".env-test-", suffix: ".ts" });
  await Deno.writeTextFile(script, code);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, script],
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

Deno.test("every task that runs main.ts starts quiet with the permissions it grants", async () => {
  const tasks: Record<string, string> =
    JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
  const prepared = `import "./cli/environment.ts"; ${ADAPTER}`;
  let checked = 0;
  for (const [name, command] of Object.entries(tasks)) {
    if (!/\bmain\.ts\b/.test(command) || /\bdeno (test|check)\b/.test(command)) continue;
    if (name === "export-site") continue; // copies files; never asks for an adapter
    const permissions = command.split(/\s+/).filter((w) => w.startsWith("--allow-"));
    const stderr = await stderrOf(prepared, permissions);
    ok(
      !stderr.includes("XDG_RUNTIME_DIR"),
      `deno task ${name} (${permissions.join(" ")}): ${stderr}`,
    );
    checked++;
  }
  ok(checked >= 7, `only ${checked} tasks run main.ts`);
});
