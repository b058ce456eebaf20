// The tree is the layer diagram: imports only go down it and never in a loop, and the engine
// (gpu/) is platform-neutral, so it runs unchanged in a web page. Read from the sources themselves.
import { ok } from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;
const SKIP = new Set(["node_modules", ".git", "tests", "models", ".gpu"]);

async function sources(dir = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(ROOT + (dir || "."))) {
    const path = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory && !SKIP.has(e.name)) out.push(...await sources(path));
    else if (e.isFile && /\.tsx?$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Normalises a/b/../c to a/c. */
function normalise(path: string): string {
  const parts: string[] = [];
  for (const p of path.split("/")) {
    if (p === "..") parts.pop();
    else if (p !== "." && p !== "") parts.push(p);
  }
  return parts.join("/");
}

const SPECIFIER =
  /(?:import|export)\s[^;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/gs;

interface Module {
  path: string;
  source: string;
  /** Every specifier, as written. */
  specifiers: string[];
  /** Project files it imports (values and types alike). */
  imports: string[];
}

async function modules(): Promise<Map<string, Module>> {
  const files = await sources();
  const known = new Set(files);
  const map = new Map<string, Module>();
  for (const path of files) {
    const source = await Deno.readTextFile(ROOT + path);
    const specifiers = [...source.matchAll(SPECIFIER)].map((m) => m[1] ?? m[2]);
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
    const imports = specifiers.filter((s) => s.startsWith("."))
      .map((s) => normalise(`${dir}/${s}`))
      .filter((p) => known.has(p));
    map.set(path, { path, source, specifiers, imports });
  }
  return map;
}

/** Strongly connected components of more than one module (Tarjan). */
function cycles(graph: Map<string, Module>): string[][] {
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], on = new Set<string>(), out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index), low.set(v, index++), stack.push(v), on.add(v);
    for (const w of graph.get(v)!.imports) {
      if (!idx.has(w)) visit(w), low.set(v, Math.min(low.get(v)!, low.get(w)!));
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do on.delete(w = stack.pop()!), comp.push(w); while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

const graph = await modules();

Deno.test("no import cycles anywhere, value or type", () => {
  const found = cycles(graph);
  ok(found.length === 0, found.map((c) => c.join(" <-> ")).join("\n"));
});

Deno.test("the engine imports only itself: no Deno.*, node:, files, or front ends", () => {
  const problems: string[] = [];
  for (const m of graph.values()) {
    if (!m.path.startsWith("gpu/")) continue;
    for (const s of m.specifiers) {
      const target = s.startsWith(".")
        ? normalise(`${m.path.slice(0, m.path.lastIndexOf("/"))}/${s}`)
        : s;
      if (!target.startsWith("gpu/")) problems.push(`${m.path} imports ${s}`);
    }
    // Code only: comments may name Deno.
    const code = m.source.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
    if (/\bDeno\./.test(code)) problems.push(`${m.path} uses Deno.*`);
  }
  ok(problems.length === 0, problems.join("\n"));
});

Deno.test("front ends: routes/ never imports cli/; data/ imports no front end", () => {
  const problems: string[] = [];
  for (const m of graph.values()) {
    const top = m.path.split("/")[0];
    for (const t of m.imports) {
      const dest = t.split("/")[0];
      if (top === "routes" && dest === "cli") problems.push(`${m.path} -> ${t}`);
      if (top === "data" && ["cli", "routes", "bench", "static"].includes(dest)) {
        problems.push(`${m.path} -> ${t}`);
      }
    }
  }
  ok(problems.length === 0, problems.join("\n"));
});

Deno.test("the whole engine bundles for a browser (deno bundle --platform browser)", async () => {
  const engine = [...graph.keys()].filter((p) => p.startsWith("gpu/")).sort();
  const dir = await Deno.makeTempDir({ dir: ROOT, prefix: ".engine-bundle-" });
  try {
    const entry = `${dir}/entry.ts`;
    await Deno.writeTextFile(
      entry,
      engine.map((p, i) => `export * as m${i} from "../${p}";`).join("\n") + "\n",
    );
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--platform", "browser", entry, "-o", `${dir}/engine.js`],
      cwd: ROOT,
      stdout: "null",
      stderr: "piped",
    }).output();
    ok(code === 0, new TextDecoder().decode(stderr));
    const bundle = await Deno.readTextFile(`${dir}/engine.js`);
    ok(bundle.includes("@compute"), "the bundle holds the WGSL kernels");
    ok(!/\bDeno\.\w/.test(bundle), "the bundle uses Deno.*");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
