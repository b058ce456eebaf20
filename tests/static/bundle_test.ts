// static/app.js is committed (the server needs no build step and no --allow-run); it must be the
// bundle of static/app.tsx as it is now.
import { ok } from "node:assert/strict";

const BUNDLE = "node_modules/.bin/deno bundle --platform browser static/app.tsx -o static/app.js";

Deno.test("static/app.js is the current bundle of static/app.tsx", async () => {
  const root = new URL("../../", import.meta.url).pathname;
  const out = await Deno.makeTempFile({ suffix: ".js" });
  try {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--platform", "browser", "static/app.tsx", "-o", out],
      cwd: root,
      stdout: "null",
      stderr: "piped",
    }).output();
    ok(code === 0, new TextDecoder().decode(stderr));
    const fresh = await Deno.readTextFile(out);
    const committed = await Deno.readTextFile(`${root}static/app.js`);
    ok(fresh === committed, `static/app.js is stale: run \`${BUNDLE}\``);
  } finally {
    await Deno.remove(out);
  }
});
