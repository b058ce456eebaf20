// A child process for the crash test: writes version after version of a checkpoint-sized folder
// with the service's atomic swap, each rename slowed down so that a kill lands between any two
// steps of a swap, and prints each version once it is in place. Run as
//   deno run -A tests/reliability/checkpoint_writer.ts DIR [MODEL_FOLDER_MODULE]
// (the second argument lets the crash test run an older data/model_folder.ts against the same kills).
const [dir, module = new URL("../../data/model_folder.ts", import.meta.url).href] = Deno.args;
const { writeFolderFiles } = await import(module);

const rename = Deno.rename;
Object.defineProperty(Deno, "rename", {
  value: async (from: string, to: string) => {
    await rename(from, to);
    await new Promise((r) => setTimeout(r, 40));
  },
});

const weights = new Uint8Array(1 << 20);
console.log("ready");
for (let version = 1;; version++) {
  const text = new TextEncoder().encode(JSON.stringify({ version }));
  weights.fill(version % 256);
  await writeFolderFiles(
    dir,
    new Map([
      ["config.json", text],
      ["diffusion_pytorch_model.safetensors", weights],
      ["sprite_diffusion.json", text],
    ]),
  );
  console.log(`wrote ${version}`);
}
