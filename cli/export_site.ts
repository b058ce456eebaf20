// `deno task export-site DIR [--model M]`: the page as a static site that needs no server. DIR gets
// index.html (the page with its style inlined and a tag naming the model folder), app.js (the
// page's bundle, static/app.js, which tests/static/bundle_test.ts keeps current) and model/ (the
// checkpoint's four files). The visitor's browser runs the model on its own WebGPU; every URL is
// relative, so the site works from any folder of any static host.
import { parseArgs } from "node:util";
import { InputError } from "../errors.ts";
import { CHECKPOINT_FILES, checkTensors, decodeCheckpoint } from "../gpu/formats/checkpoint.ts";
import { parseUNetConfig } from "../gpu/model/config.ts";
import { unetParamSpecs } from "../gpu/model/params.ts";
import { classEmbeddingParamSpecs } from "../gpu/model/class_embedding.ts";
import { DEFAULT_CLASS_NAMES, embeddingFor } from "../gpu/model/sprite_model.ts";
import { EngineInputError } from "../gpu/runtime/errors.ts";
import { joinPath, readFolderFiles } from "../data/model_folder.ts";
import { DEFAULT_MODEL_DIR } from "../data/model_source.ts";

const help = `usage: deno task export-site DIR [--model DIR]
  Writes a static site into DIR: index.html, app.js and model/ (the checkpoint's config, UNet and
  embedding weights, sprite_diffusion.json; the shipped model unless --model). Publish DIR on any
  static host (GitHub Pages, a bucket, nginx): the page generates sprites in the visitor's browser
  with WebGPU, with no server process. DIR must be absent, empty, or an earlier export.`;

const STATIC_DIR = decodeURIComponent(new URL("../static/", import.meta.url).pathname);
/** The site's model folder, relative to index.html. */
export const SITE_MODEL_DIR = "model";
const SITE_FILES = new Set(["index.html", "app.js", SITE_MODEL_DIR]);

export async function exportSiteCommand(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { model: { type: "string" }, help: { type: "boolean" } },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    throw new InputError(`export-site: ${(e as Error).message}`);
  }
  if (parsed.values.help) return console.log(help);
  if (parsed.positionals.length !== 1) {
    throw new InputError(`export-site needs one folder to write\n${help}`);
  }
  const [out] = parsed.positionals;
  const modelDir = parsed.values.model ?? DEFAULT_MODEL_DIR;
  const files = await sampleableCheckpoint(modelDir);
  await checkOutFolder(out);

  const style = await Deno.readTextFile(`${STATIC_DIR}style.css`);
  await Deno.mkdir(joinPath(out, SITE_MODEL_DIR), { recursive: true });
  await Deno.writeTextFile(joinPath(out, "index.html"), siteIndex(style));
  await Deno.copyFile(`${STATIC_DIR}app.js`, joinPath(out, "app.js"));
  let bytes = 0;
  for (const [name, data] of files) {
    await Deno.writeFile(joinPath(joinPath(out, SITE_MODEL_DIR), name), data);
    bytes += data.length;
  }
  console.log(
    `site: ${out} (index.html, app.js, ${SITE_MODEL_DIR}/: ${files.size} files, ` +
      `${
        (bytes / 2 ** 20).toFixed(1)
      } MiB from ${modelDir}); publish the folder on any static host`,
  );
}

/**
 * The checkpoint's four files, checked as far as can be without a GPU: the config parses, and the
 * UNet's and the embedding net's tensors have the names and shapes the model needs. A plain
 * diffusers UNet folder (no embedding net) cannot sample by class, so it is refused.
 */
async function sampleableCheckpoint(dir: string): Promise<Map<string, Uint8Array>> {
  const files = await readFolderFiles(dir, Object.values(CHECKPOINT_FILES));
  for (const name of Object.values(CHECKPOINT_FILES)) {
    if (!files.has(name)) {
      throw new InputError(`${dir} has no ${name}: the site needs a whole sprite checkpoint`);
    }
  }
  try {
    const loaded = decodeCheckpoint(dir, files);
    const config = parseUNetConfig(loaded.config);
    if (config.in_channels !== 3 || config.out_channels !== 3 || !config.sample_size) {
      throw new InputError(
        `${dir}/config.json: the site's sprites need 3 channels and sample_size`,
      );
    }
    checkTensors(unetParamSpecs(config), loaded.unet, joinPath(dir, CHECKPOINT_FILES.unet));
    const names = loaded.info?.class_names;
    const classes = Array.isArray(names) ? names.length : DEFAULT_CLASS_NAMES.length;
    const first = loaded.embedding!.get("0.weight");
    const embedding = {
      ...embeddingFor(config, classes),
      ...(first?.shape.length === 2 ? { hidden: first.shape[0] } : {}),
    };
    checkTensors(
      classEmbeddingParamSpecs(embedding),
      loaded.embedding!,
      joinPath(dir, CHECKPOINT_FILES.embedding),
    );
  } catch (e) {
    if (e instanceof EngineInputError) throw new InputError(e.message);
    throw e;
  }
  return files;
}

/** Absent, empty, or holding only what an export writes (so a site can be exported again). */
async function checkOutFolder(dir: string): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw new InputError(`cannot write the site into ${dir}: ${(e as Error).message}`);
  }
  const modelFiles = new Set<string>(Object.values(CHECKPOINT_FILES));
  for (const e of entries) {
    const ours = SITE_FILES.has(e.name) && (e.name === SITE_MODEL_DIR ? e.isDirectory : e.isFile);
    if (!ours) {
      throw new InputError(
        `${dir} holds ${e.name}: export into an absent or empty folder (or an earlier export)`,
      );
    }
    if (e.name !== SITE_MODEL_DIR) continue;
    for await (const m of Deno.readDir(joinPath(dir, SITE_MODEL_DIR))) {
      if (!m.isFile || !modelFiles.has(m.name)) {
        throw new InputError(`${dir}/${SITE_MODEL_DIR} holds ${m.name}: not an earlier export`);
      }
    }
  }
}

const escapeForStyle = (css: string) => css.replaceAll("</", "<\\/");

/** The site's page: static/index.html's, with the style inlined and the model folder named. */
function siteIndex(style: string): string {
  const site = JSON.stringify({ model: `${SITE_MODEL_DIR}/` });
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Sprite Diffusion</title>
    <link rel="icon" href="data:,">
    <style>
${escapeForStyle(style)}
    </style>
    <script type="application/json" id="sprite-site">${site}</script>
  </head>
  <body>
    <main id="app">
      <p class="note">Loading…</p>
      <noscript>This page makes sprites with JavaScript and WebGPU.</noscript>
    </main>
    <script type="module" src="app.js"></script>
  </body>
</html>
`;
}
