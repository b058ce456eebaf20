// diffusers' reference case (../shared/fixtures/diffusers-ref/) inside Chromium: the page's WebGPU
// is Dawn with the Tint compiler (Deno's is wgpu with naga), on a device within the default limits.
// The adapter's own profile (llvmpipe's, for SwiftShader) runs the forward, the L1 loss and the
// backward against every tensor of the case; discrete-gpu's kernels, which a page on a real GPU
// gets, run the forward (every activation and output.sample). The tolerance is the Deno test's.
import { ok } from "node:assert/strict";
import { type CheckedTensor, errorTable } from "../../gpu/model/reference_check.ts";
import { launchChromium, serveFolders, skipBrowser } from "./chromium.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURES = new URL("../../../shared/fixtures/diffusers-ref/", import.meta.url).pathname;
/** tests/model/unet_fixture_test.ts's: the reference's own float32 noise is ~4e-6. */
const TOLERANCE = 1e-4;

interface FixtureResult {
  failed?: string;
  adapter: string;
  profile: string;
  limits: Record<string, number>;
  ms: number;
  rows: CheckedTensor[];
  unmatched: string[];
  errors: string[];
}

Deno.test({
  name:
    "unet fixture in Chromium: every tensor within 1e-4 (forward + backward; discrete-gpu forward)",
  ignore: skipBrowser,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "sprite-fixture-page-" });
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--platform",
        "browser",
        "tests/static/fixture_page.ts",
        "-o",
        `${dir}/page.js`,
      ],
      cwd: ROOT,
      stdout: "null",
      stderr: "piped",
    }).output();
    ok(code === 0, new TextDecoder().decode(stderr));
    await Deno.writeTextFile(
      `${dir}/index.html`,
      '<!doctype html><link rel="icon" href="data:,"><script type="module" src="page.js"></script>\n',
    );
    const server = serveFolders({ "/fixtures/": FIXTURES, "/": dir });
    const browser = await launchChromium({ webgpu: true });
    try {
      const page = await browser.context.newPage();
      const cases = [
        { query: "", want: 295, what: "forward + L1 loss + backward" },
        { query: "?profile=discrete-gpu&forward", want: 42, what: "forward" },
      ];
      for (const { query, want, what } of cases) {
        await page.goto(`${server.url}/${query}`);
        await page.waitForFunction(() => "fixtureResult" in globalThis, undefined, {
          timeout: 300_000,
        });
        const r = await page.evaluate(() =>
          (globalThis as unknown as { fixtureResult: FixtureResult }).fixtureResult
        );
        ok(!r.failed, r.failed);
        console.log(`${r.adapter} [${r.profile} profile], ${what}, ${r.ms} ms:`);
        console.log(errorTable(r.rows));
        ok(r.limits.maxStorageBuffersPerShaderStage === 8, JSON.stringify(r.limits));
        ok(r.limits.maxStorageBufferBindingSize === 128 * 2 ** 20, JSON.stringify(r.limits));
        ok(r.limits.maxComputeWorkgroupStorageSize === 16384, JSON.stringify(r.limits));
        ok(r.errors.length === 0, `GPU errors: ${r.errors.join("; ")}`);
        ok(r.unmatched.length === 0, `no model tensor for ${r.unmatched.join(", ")}`);
        ok(r.rows.length === want, `${r.profile}: checked ${r.rows.length}, want ${want}`);
        const over = r.rows.filter((t) => !(t.error <= TOLERANCE));
        ok(
          over.length === 0,
          `${r.profile}: over ${TOLERANCE}: ` +
            over.slice(0, 20).map((t) => `${t.name} ${t.error.toExponential(2)}`).join(", "),
        );
      }
    } finally {
      await browser.close();
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
