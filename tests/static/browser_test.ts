// The page in a real browser: Debian's Chromium, headless, driven by playwright-core against a
// running server with a tiny model, without WebGPU (the page falls back to the server and says so).
// One server and one browser for every state, each asserted from the DOM: per-request progress bars
// fed by the server's event stream, the generation's own times, the sprites at one size in every
// card, fields checked as they are typed (errors beside them, nothing sent), the recommended
// guidance by default, settings kept across tabs and in the URL (a shared link gives the same
// sprites), the dataset's kept/removed toggle, the favicon; then training on a --token server: the
// token asked for once and sent as a header (never in a URL), a fine-tune of the served model with
// its recipe shown, a loss chart with labelled axes and marks, a preview of the checkpoint before
// it is served, and the previous model one click away. Screenshots go to $TMPDIR (default /tmp).
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import type { Page } from "playwright-core";
import { saveSpriteModel } from "../../data/model_folder.ts";
import { getGpu } from "../../gpu/runtime/device.ts";
import { startTestServer, tinyConfig, tinyModel } from "../routes/helpers.ts";
import { launchChromium, skipBrowser } from "./chromium.ts";

const shots = Deno.env.get("TMPDIR") ?? "/tmp";
const TOKEN = "page-test-secret";

/** Every img.sprite's src, card by card. */
const spriteSources = (page: Page) =>
  page.locator("img.sprite").evaluateAll((els) =>
    els.map((e) => `${(e as HTMLImageElement).dataset.class}:${(e as HTMLImageElement).src}`)
  );

/** Waits for the five class cards' sprites (and the timing line saying they are all done). */
async function fiveGrids(page: Page, count = 4) {
  await page.waitForFunction(
    (count) =>
      /ms for 5 grids on the server/.test(document.querySelector("#timing")?.textContent ?? "") &&
      [...document.querySelectorAll<HTMLImageElement>("img.sprite:not([data-class=mix])")]
          .filter((i) => i.complete && i.naturalWidth > 0).length === 5 * count,
    count,
    { timeout: 90_000 },
  );
}

/** A tiny checkpoint folder with a recipe (batch 4) and a training log with an lr step and a freeze. */
async function servedFolder(dir: string): Promise<string> {
  const gpu = await getGpu();
  const model = tinyModel(gpu, 7);
  model.info = {
    recipe: {
      batch: 4,
      epochs: 6,
      lr: 3e-4,
      weightDecay: 1e-4,
      loss: "l1",
      dropout: 0,
      embDropout: 0.1,
      freezeEpoch: 2,
      maskProb: 0.05,
      seed: 1,
      precision: "f32",
    },
    epoch: 6,
  };
  await saveSpriteModel(gpu, `${dir}/tiny-shipped`, model);
  const log = [0.4, 0.25, 0.2, 0.17, 0.16, 0.15].map((loss, i) =>
    JSON.stringify({
      epoch: i + 1,
      mean_loss: loss,
      step: 10 * (i + 1),
      lr: i < 3 ? 1e-3 : 3e-4,
      embedding_frozen: i >= 2,
    })
  );
  await Deno.writeTextFile(`${dir}/tiny-shipped/train_log.jsonl`, log.join("\n") + "\n");
  return `${dir}/tiny-shipped`;
}

Deno.test({
  name:
    "the page without WebGPU: progress, times, one sprite size, checked fields, URL state, tabs",
  ignore: skipBrowser,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const tmp = await Deno.makeTempDir({ prefix: "page_test_" });
    const server = await startTestServer({
      model: { kind: "folder", dir: await servedFolder(tmp) },
      allowTrain: true,
      token: TOKEN,
      trainDir: `${tmp}/runs`,
    });
    const browser = await launchChromium({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    const urls: string[] = [];
    const trainingAuth: string[] = [];
    const generateRequests: string[] = [];
    browser.context.on("request", async (r) => {
      urls.push(r.url());
      const path = new URL(r.url()).pathname;
      if (path === "/api/generate") generateRequests.push(r.postData() ?? "");
      if (path.startsWith("/api/train")) {
        trainingAuth.push((await r.allHeaders()).authorization ?? "");
      }
    });
    try {
      const page = await browser.context.newPage();
      page.on("pageerror", (e) => errors.push(e.message));

      await t.step(
        "first grids: a progress bar per request from the server, then the times",
        async () => {
          // 4 steps (from the link) keep the tiny model's passes short; the rest are the defaults.
          await page.goto(server.url + "/?steps=4");
          await page.locator(".request-progress[data-state=running]").first().waitFor({
            timeout: 60_000,
          });
          const bar = page.locator(".request-progress[data-state=running] progress").first();
          const [value, max] = await bar.evaluate((
            e,
          ) => [(e as HTMLProgressElement).value, (e as HTMLProgressElement).max]);
          ok(max === 4 && value >= 0 && value <= 4, `progress ${value}/${max}`);
          await page.screenshot({ path: `${shots}/sprite_page_progress.png`, fullPage: true });
          await fiveGrids(page);
          ok(
            !(await page.locator("#on-device").isChecked()) &&
              await page.locator("#on-device").isDisabled(),
          );
          ok(
            /on the server: this browser gives no WebGPU adapter/.test(
              await page.locator("#engine-note").innerText(),
            ),
          );
          ok(!/^adapter/.test(await page.locator("#adapter").innerText()));
          // The recommended guidance by default, and every setting in the URL.
          assertEquals(await page.inputValue("input[name=guidance]"), "2");
          const query = new URL(page.url()).searchParams;
          assertEquals([query.get("guidance"), query.get("seed"), query.get("count")], [
            "2",
            "1",
            "4",
          ]);
          // Each card's time is its generation's, the GPU pass's; the wait is told apart.
          for (const note of await page.locator(".sprite-card .timing").allInnerTexts()) {
            ok(/^\d+ ms generating/.test(note), note);
          }
          ok((await page.locator(".request-progress").count()) === 0, "the bars go when done");
          await page.screenshot({ path: `${shots}/sprite_page_grids.png`, fullPage: true });
        },
      );

      await t.step(
        "one sprite size in every card, the mixture's included, filling the card",
        async () => {
          await page.locator("input[name=mix-food]").fill("1");
          await page.click("#generate-mix");
          await page.waitForFunction(
            () => document.querySelectorAll("img.sprite[data-class=mix]").length === 8,
            undefined,
            { timeout: 60_000 },
          );
          const sizes = await page.locator(".sprite-card").evaluateAll((cards) =>
            cards.map((card) => {
              const grid = card.querySelector(".sprite-grid")!.getBoundingClientRect();
              const imgs = [...card.querySelectorAll("img.sprite")].map((i) =>
                i.getBoundingClientRect()
              );
              const inner = card.getBoundingClientRect().width - 20; // the card's padding
              return {
                grid: grid.width,
                inner,
                widths: imgs.map((r) => r.width),
                naturals: [...card.querySelectorAll<HTMLImageElement>("img.sprite")].map((i) =>
                  i.naturalWidth
                ),
              };
            })
          );
          const widths = sizes.flatMap((s) => s.widths);
          ok(widths.length === 5 * 4 + 8, `${widths.length} sprites`);
          ok(Math.max(...widths) - Math.min(...widths) < 0.5, `sizes ${[...new Set(widths)]}`);
          ok(widths[0] > 45, `sprites drawn at ${widths[0]} px`);
          for (const s of sizes) {
            ok(Math.abs(s.grid - s.inner) < 1.5, `grid ${s.grid} of ${s.inner}`);
            ok(s.naturals.every((n) => n === 16), "16x16 sprites, scaled by the page");
          }
          const mix = new URL(page.url()).searchParams.get("mix");
          assertEquals(mix, "0.5,0.5,1,0,0");
        },
      );

      await t.step(
        "fields checked as typed: the error beside its field, nothing sent",
        async () => {
          await page.fill("input[name=eta]", "abc");
          const etaError = page.locator("#eta-error");
          await etaError.waitFor();
          ok(/^eta must be a number, got "abc"$/.test(await etaError.innerText()));
          assertEquals(await page.getAttribute("input[name=eta]", "aria-invalid"), "true");
          await page.fill("input[name=count]", "65");
          const countError = await page.locator("#count-error").innerText();
          ok(/^per class must be in \[1, 64\], got 65$/.test(countError), countError);
          ok(/^eta must be a number/.test(await etaError.innerText()), "both errors at once");
          // While a field is wrong nothing is sent: not after a pause, on Enter, or on leaving it.
          const before = generateRequests.length;
          await page.press("input[name=count]", "Enter");
          await page.click("h1");
          await page.waitForTimeout(800);
          assertEquals(generateRequests.length, before, "nothing was sent");
          ok(await page.locator("#generate-mix").isDisabled());
          await page.fill("input[name=count]", "8");
          await page.fill("input[name=eta]", "0");
          await page.fill("input[name=steps]", "1000");
          const work = await page.locator("#steps-error").innerText();
          const limit =
            /8 sprites x 1000 steps x 2 \(guidance\) is 16000 UNet passes; one request may/;
          ok(limit.test(work), work);
          await page.screenshot({ path: `${shots}/sprite_page_field_error.png`, fullPage: true });
        },
      );

      let sources: string[] = [];
      await t.step("typing a seed makes the grids again, no Enter needed", async () => {
        // Back to the first grids' settings (their programs are built): count while steps is
        // still too many, so no other grid is made on the way.
        await page.fill("input[name=count]", "4");
        await page.fill("input[name=steps]", "4");
        const before = await spriteSources(page);
        await page.fill("input[name=seed]", "5"); // typed, not committed: the pause runs it
        await page.waitForFunction(() => /seed=5/.test(location.search));
        await page.waitForFunction(
          (before) => {
            const now = [
              ...document.querySelectorAll<HTMLImageElement>("img.sprite:not([data-class=mix])"),
            ];
            return now.length === 20 && now.every((i) =>
              !before.includes(`${i.dataset.class}:${i.src}`)
            ) &&
              /ms for 5 grids/.test(document.querySelector("#timing")?.textContent ?? "");
          },
          before,
          { timeout: 60_000 },
        );
        await page.click("#generate-mix");
        await page.waitForFunction(() => !document.querySelector(".request-progress"), undefined, {
          timeout: 60_000,
        });
        sources = await spriteSources(page);
      });

      await t.step(
        "the dataset tab's kept/removed toggle; the settings and the mixture survive tabs",
        async () => {
          await page.click("#tab-dataset");
          await page.locator(".hist .row").first().waitFor({ timeout: 30_000 });
          await page.check("input[name=kind][value=kept]");
          await page.waitForFunction(() => {
            const img = document.querySelector<HTMLImageElement>("img.pixel.examples");
            return img?.src.includes("kind=kept") && img.complete && img.naturalWidth > 0;
          });
          assertEquals(await page.locator("#examples-title").innerText(), "Kept sprites");
          ok(/kind=kept/.test(page.url()) && /tab=dataset/.test(page.url()));
          await page.selectOption("select[name=class]", "1");
          await page.waitForFunction(() =>
            document.querySelector<HTMLImageElement>("img.pixel.examples")?.src.includes("class=1")
          );
          await page.screenshot({ path: `${shots}/sprite_page_dataset_kept.png`, fullPage: true });
          await page.click("#tab-sprites");
          assertEquals(await page.inputValue("input[name=seed]"), "5");
          assertEquals(await spriteSources(page), sources, "the same sprites, the mixture's too");
        },
      );

      await t.step("a shared link gives the same sprites, the mixture's too", async () => {
        const link = page.url();
        const other = await browser.context.newPage();
        other.on("pageerror", (e) => errors.push(e.message));
        await other.goto(link);
        await fiveGrids(other);
        await other.waitForFunction(
          () => document.querySelectorAll("img.sprite[data-class=mix]").length === 8,
          undefined,
          { timeout: 60_000 },
        );
        assertEquals(await other.inputValue("input[name=seed]"), "5");
        assertEquals(await spriteSources(other), sources);
        await other.close();
      });

      await t.step("a favicon, at /favicon.ico too", async () => {
        const href = await page.getAttribute("link[rel=icon]", "href");
        for (const path of [href!, "/favicon.ico"]) {
          const res = await fetch(new URL(path, server.url));
          assertEquals([res.status, res.headers.get("content-type")], [200, "image/png"], path);
          await res.body?.cancel();
        }
      });

      await t.step(
        "training: the token asked for once, sent as a header, never in a URL",
        async () => {
          await page.click("#tab-train");
          await page.locator("form.token").waitFor({ timeout: 30_000 });
          await page.screenshot({ path: `${shots}/sprite_page_token.png`, fullPage: true });
          await page.fill("input[name=token]", "wrong");
          await page.click("#use-token");
          await page.locator("form.token .error").waitFor();
          await page.fill("input[name=token]", TOKEN);
          await page.click("#use-token");
          const plan = page.locator("#plan-recipe");
          await page.waitForFunction(
            () =>
              /will run: fine-tune of tiny-shipped/.test(
                document.querySelector("#plan-recipe")?.textContent ?? "",
              ),
            undefined,
            { timeout: 30_000 },
          );
          const line = await plan.innerText();
          ok(/batch 4 · 1 epoch · lr 3e-5 · embedding frozen from the start/.test(line), line);
          // The served model's own history: steps from 0, log scale, its lr step and freeze marked.
          const history = page.locator("svg.loss-chart[data-chart=history]");
          await history.waitFor();
          assertEquals(await history.locator(".axis.x text.tick").first().textContent(), "0");
          assertEquals(await history.locator(".axis-label").allTextContents(), [
            "step",
            "loss (log scale)",
          ]);
          assertEquals(
            await history.locator("g.mark").evaluateAll((m) =>
              m.map((g) => `${(g as SVGElement).dataset.mark}@${(g as SVGElement).dataset.step}`)
            ),
            ["lr@0", "freeze@20", "lr@30"],
          );
          ok((await history.locator(".axis.y text.tick").count()) >= 3, "log ticks");
          await page.check("input[name=start][value=scratch]");
          await page.waitForFunction(() =>
            /new model \(compact preset, random init\) · batch 32 · 24 epochs · lr 1e-3 · embedding frozen after epoch 16/
              .test(document.querySelector("#plan-recipe")?.textContent ?? "")
          );
          await page.check("input[name=start][value=serving]");
          await page.waitForFunction(() =>
            /fine-tune of/.test(document.querySelector("#plan-recipe")?.textContent ?? "")
          );
          await page.screenshot({ path: `${shots}/sprite_page_train_plan.png`, fullPage: true });
          ok(
            trainingAuth.length > 2 && trainingAuth.slice(-2).every((a) => a === `Bearer ${TOKEN}`),
            JSON.stringify(trainingAuth),
          );
        },
      );

      await t.step(
        "a fine-tune: its recipe, its chart, a preview, served, and back in one click",
        async () => {
          await page.fill("input[name=train-max_steps]", "3");
          await page.click("#start-job");
          await page.locator("#job-recipe").waitFor({ timeout: 60_000 });
          ok(
            /^fine-tune of tiny-shipped · batch 4 · 1 epoch · lr 3e-5/.test(
              await page.locator("#job-recipe").innerText(),
            ),
          );
          await page.waitForFunction(
            () => /^done/.test(document.querySelector("#train-status")?.textContent ?? ""),
            undefined,
            { timeout: 120_000 },
          );
          const job = page.locator("svg.loss-chart[data-chart=job]");
          await job.waitFor();
          assertEquals(await job.locator(".axis.x text.tick").first().textContent(), "0");
          assertEquals(
            await job.locator("g.mark").evaluateAll((m) =>
              m.map((g) => (g as SVGElement).dataset.mark)
            ),
            ["lr", "freeze"],
          );
          await page.waitForFunction(
            () => {
              const img = document.querySelector<HTMLImageElement>("#preview-grid");
              return img !== null && img.complete && img.naturalWidth > 0;
            },
            undefined,
            { timeout: 60_000 },
          );
          ok(await page.locator("#serve-checkpoint").isEnabled());
          await page.screenshot({ path: `${shots}/sprite_page_train_done.png`, fullPage: true });
          await page.click("#serve-checkpoint");
          const note = page.locator("#swap-note");
          await note.waitFor();
          ok(
            /Now serving web-run-\d{8}-\d{6}\/checkpoint \(before it: tiny-shipped\)/.test(
              await note.innerText(),
            ),
            await note.innerText(),
          );
          await page.screenshot({ path: `${shots}/sprite_page_swapped.png`, fullPage: true });
          await page.click("#revert-model");
          await page.waitForFunction(() =>
            /Now serving tiny-shipped \(before it: web-run-/.test(
              document.querySelector("#swap-note")?.textContent ?? "",
            )
          );
          await page.screenshot({ path: `${shots}/sprite_page_reverted.png`, fullPage: true });
          // The sprites tab made its grids again with each model.
          await page.click("#tab-sprites");
          await fiveGrids(page);
        },
      );

      ok(!urls.some((u) => u.includes(TOKEN)), "the token is in no URL");
      ok(errors.length === 0, `page errors: ${errors.join("; ")}`);

      await t.step("a phone's width: one card a row, the same four sprites a row", async () => {
        await page.setViewportSize({ width: 390, height: 844 });
        await page.screenshot({ path: `${shots}/sprite_page_phone.png`, fullPage: true });
        const widths = await page.locator("img.sprite").evaluateAll((imgs) =>
          imgs.map((i) => i.getBoundingClientRect().width)
        );
        ok(Math.max(...widths) - Math.min(...widths) < 0.5 && widths[0] > 60, `${widths[0]}`);
      });
    } finally {
      await browser.close();
      await server.close();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "the page with WebGPU but a model without files: the server's grids, its own classes",
  ignore: skipBrowser,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // A random init has no files for the page's engine; this one has three classes of its own.
    const classNames = ["knight", "slime", "potion"];
    const server = await startTestServer({
      model: { kind: "random", config: tinyConfig, seed: 7, classNames },
      allowTrain: true,
    });
    const browser = await launchChromium({ webgpu: true });
    try {
      const page = await browser.context.newPage();
      await page.goto(server.url + "/?steps=2");
      await page.waitForFunction(
        () =>
          /ms for 3 grids on the server/.test(document.querySelector("#timing")?.textContent ?? ""),
        undefined,
        { timeout: 60_000 },
      );
      const toggle = page.locator("#on-device");
      ok(!(await toggle.isChecked()) && await toggle.isDisabled());
      const note = await page.locator("#engine-note").innerText();
      // The files are fetched together: either required one may be the first refusal.
      ok(
        /on the server: .*(config\.json|diffusion_pytorch_model\.safetensors): 404/.test(note),
        note,
      );
      assertEquals(
        await page.locator(".sprite-card h2").allInnerTexts(),
        ["0 knight", "1 slime", "2 potion", "Class mix"],
      );
      assertEquals(
        await page.locator(".mixer .slider span:first-child").allInnerTexts(),
        classNames,
      );
      assertEquals(await page.locator("img.sprite").count(), 12);
      await page.screenshot({ path: `${shots}/sprite_page_three_classes.png`, fullPage: true });
      // Its classes are not the training set's: a fine-tune is refused, saying why.
      const res = await fetch(`${server.url}/api/train`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ max_steps: 1 }),
      });
      assertEquals(res.status, 409);
      // Nor does the bundled set fit its dataset tab: a 409 naming the files, not where they are.
      const data = await fetch(`${server.url}/api/dataset`);
      const detail = (await data.json()).detail;
      assertEquals(data.status, 409);
      ok(/sprite_labels_nc_4470_16x16\.npy: labels must have 3 columns/.test(detail), detail);
      ok(!detail.includes("/data/bundled"), detail);
      ok(
        /cannot be fine-tuned on this training set .*"start": "scratch"/.test(
          (await res.json()).detail,
        ),
      );
    } finally {
      await browser.close();
      await server.close();
    }
  },
});
