// `deno task export-site`: the folder it writes (index.html, app.js, model/), its refusals, and the
// site itself on a plain static file server on loopback, under a sub-path as a project page would
// be: Chromium makes the per-class grid on its own WebGPU, asks for no API, and matches the engine
// in Deno within 2/255; without WebGPU the site says what it needs.
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { saveSpriteModel } from "../../data/model_folder.ts";
import { DEFAULT_MODEL_DIR } from "../../data/model_source.ts";
import { CHECKPOINT_FILES } from "../../gpu/formats/checkpoint.ts";
import { getGpu } from "../../gpu/runtime/device.ts";
import { parseSamplingRequest } from "../../gpu/sample/request.ts";
import { SpriteSampler } from "../../gpu/sample/sampler.ts";
import { tinyModel } from "../routes/helpers.ts";
import { launchChromium, serveFolders, skipBrowser, spritePixels, TOLERANCE } from "./chromium.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The task as deno.json runs it (its permissions: read and write only). */
async function exportSite(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", `${ROOT}main.ts`, "export-site", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

async function listing(dir: string, prefix = ""): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) names.push(...await listing(`${dir}/${e.name}`, `${prefix}${e.name}/`));
    else names.push(`${prefix}${e.name}`);
  }
  return names.sort();
}

Deno.test("export-site: index.html, app.js and the model's four files; refusals", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "sprite-site-" });
  try {
    const site = `${tmp}/site`;
    const first = await exportSite(site);
    assertEquals(first.code, 0, first.text);
    const model = Object.values(CHECKPOINT_FILES).map((n) => `model/${n}`);
    assertEquals(await listing(site), ["app.js", "index.html", ...model].sort());
    assertEquals(
      await Deno.readFile(`${site}/app.js`),
      await Deno.readFile(`${ROOT}static/app.js`),
    );
    for (const name of Object.values(CHECKPOINT_FILES)) {
      const copy = await Deno.readFile(`${site}/model/${name}`);
      assertEquals(copy, await Deno.readFile(`${DEFAULT_MODEL_DIR}/${name}`), name);
    }
    const index = await Deno.readTextFile(`${site}/index.html`);
    ok(index.includes('<script type="module" src="app.js">'), "a relative script");
    ok(index.includes('id="sprite-site">{"model":"model/"}'), "names its model folder");
    ok(!/\s(src|href)="\//.test(index), "no absolute URL");
    // Again into an earlier export: fine. Into a folder holding anything else: refused.
    assertEquals((await exportSite(site)).code, 0);
    await Deno.writeTextFile(`${tmp}/other.txt`, "x");
    const busy = await exportSite(tmp);
    assertEquals(busy.code, 2, busy.text);
    ok(/holds (site|other\.txt): export into an absent or empty folder/.test(busy.text), busy.text);
    const plain = await exportSite(
      `${tmp}/x`,
      "--model",
      `${ROOT}../shared/fixtures/diffusers-ref/unet_small`,
    );
    assertEquals(plain.code, 2, plain.text);
    ok(/has no emb_net\.safetensors/.test(plain.text), plain.text);
    const none = await exportSite();
    assertEquals(none.code, 2, none.text);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test({
  name: "export-site: the site on a static file server makes the per-class grid in Chromium",
  ignore: skipBrowser,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "sprite-site-" });
    const gpu = await getGpu();
    const model = tinyModel(gpu, 33);
    await saveSpriteModel(gpu, `${tmp}/model`, model);
    const exported = await exportSite(`${tmp}/site`, "--model", `${tmp}/model`);
    assertEquals(exported.code, 0, exported.text);
    const server = serveFolders({ "/sprites/": `${tmp}/site` });
    try {
      // What the engine gives in Deno for the fields the page sends: each sprite's RGB bytes.
      const sampler = new SpriteSampler(gpu, model);
      const inDeno = async (fields: Record<string, unknown>) => {
        const r = parseSamplingRequest(fields, {
          classNames: model.classNames,
          limits: { maxCount: 64, maxPerClass: 16, maxScale: 16 },
          forms: ["class", "labels"],
        });
        const bytes = await sampler.generate(r.job);
        return Array.from(
          { length: r.job.count },
          (_, i) => bytes.subarray(i * 768, (i + 1) * 768),
        );
      };
      const perClass = async (more: Record<string, unknown>) =>
        (await Promise.all(model.classNames.map((_, c) => inDeno({ class: c, count: 4, ...more }))))
          .flat();
      // The page's first grids, as its link asks: 4 sprites of each class, 10 DDIM steps, eta 0,
      // seed 1, guidance 1 (the page's default is 2; parity is what is tested, and it costs less).
      const expected = await perClass({ steps: 10, eta: 0, seed: 1, guidance: 1 });
      // Then classifier-free guidance with DDIM's noise, and a mixture of the first two classes.
      const guided = await perClass({ steps: 3, eta: 0.5, seed: 1, guidance: 2 });
      const mixture = await inDeno({
        labels: [0.5, 0.5, 0, 0, 0],
        count: 8,
        steps: 3,
        eta: 0.5,
        seed: 1,
        guidance: 2,
      });
      const worstOf = (rgba: number[], rgb: Uint8Array) => {
        if (rgba.length / 4 !== rgb.length / 3) return Infinity;
        let worst = 0;
        for (let p = 0; p < rgba.length / 4; p++) {
          for (let k = 0; k < 3; k++) {
            worst = Math.max(worst, Math.abs(rgba[p * 4 + k] - rgb[p * 3 + k]));
          }
        }
        return worst;
      };

      const browser = await launchChromium({ webgpu: true });
      try {
        const page = await browser.context.newPage();
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(e.message));
        page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
        await page.goto(`${server.url}/sprites/?guidance=1`);
        const done = () =>
          /ms for 5 grids on this device/.test(
            document.querySelector("#timing")?.textContent ?? "",
          ) &&
          document.querySelectorAll("img.sprite:not([data-class=mix])").length === 20;
        await page.waitForFunction(done, undefined, { timeout: 300_000 });
        const diffs = (await spritePixels(page)).map(({ rgba }, i) => worstOf(rgba, expected[i]));
        console.log(`static site, per sprite max |diff| vs Deno: ${Math.max(...diffs)} (of 255)`);
        ok(diffs.every((d) => d <= TOLERANCE), `diffs ${diffs}`);

        const before = await page.locator("#timing").innerText();
        for (const [name, value] of [["steps", "3"], ["eta", "0.5"], ["guidance", "2"]]) {
          await page.fill(`input[name=${name}]`, value);
          await page.press(`input[name=${name}]`, "Tab"); // commits the change
        }
        await page.waitForFunction(
          ([before]) => {
            const t = document.querySelector("#timing")?.textContent ?? "";
            return t !== before && /ms for 5 grids on this device/.test(t);
          },
          [before],
          { timeout: 300_000 },
        );
        const guidedDiffs = (await spritePixels(page)).filter((g) => !g.name.startsWith("mix/"))
          .map(({ rgba }, i) => worstOf(rgba, guided[i]));
        ok(guidedDiffs.every((d) => d <= TOLERANCE), `guided, eta 0.5: ${guidedDiffs}`);
        await page.click("#generate-mix");
        await page.waitForFunction(
          () => document.querySelectorAll("img.sprite[data-class=mix]").length === 8,
          undefined,
          { timeout: 300_000 },
        );
        const mixed = (await spritePixels(page)).filter((g) => g.name.startsWith("mix/"));
        const mixDiff = Math.max(...mixed.map(({ rgba }, i) => worstOf(rgba, mixture[i])));
        console.log(`guided, eta 0.5: ${Math.max(...guidedDiffs)}; mixture: ${mixDiff}`);
        ok(mixDiff <= TOLERANCE, `mixture: ${mixDiff}`);
        ok(await page.locator("#on-device").isDisabled(), "no server to switch to");
        ok(/a static site/.test(await page.locator("#engine-note").innerText()));
        ok(!(await page.locator("text=Dataset").count()), "no dataset tab without a server");
        const asked = server.log.map((l) => l.path);
        ok(!asked.some((p) => p.includes("/api/")), `no API: ${asked.join(", ")}`);
        ok(server.log.every((l) => l.status === 200), JSON.stringify(server.log));
        ok(errors.length === 0, `page errors: ${errors.join("; ")}`);
      } finally {
        await browser.close();
      }

      // Without WebGPU there is nothing to fall back on: the page says what it needs.
      const plain = await launchChromium();
      try {
        const page = await plain.context.newPage();
        await page.goto(`${server.url}/sprites/`);
        const alert = page.locator(".error[role=alert]");
        await alert.waitFor({ timeout: 60_000 });
        ok(/makes its sprites with WebGPU/.test(await alert.innerText()));
        ok(!(await page.locator("img.sprite").count()));
      } finally {
        await plain.close();
      }
    } finally {
      await server.close();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
