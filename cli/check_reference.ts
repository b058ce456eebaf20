// `deno task check-reference`: proves a diffusers UNet runs here exactly as in PyTorch.
import { InputError } from "../errors.ts";
import { adapterLine, getGpu } from "../gpu/runtime/device.ts";
import { checkUNetCase, errorTable } from "../gpu/model/reference_check.ts";
import { readSafetensors, SafetensorsError } from "../gpu/formats/safetensors.ts";
import { spriteModelFromCheckpoint } from "../gpu/model/sprite_model.ts";
import { numberFlag, parseFlags } from "./args.ts";
import { loadCheckpointFolder } from "../data/model_folder.ts";

const help =
  `usage: deno task check-reference --model DIR --case FILE.safetensors [--tolerance 1e-4]
  Loads a diffusers-format UNet (config.json + diffusion_pytorch_model.safetensors) and a case
  file in the layout of shared/fixtures/diffusers-ref/unet_small_case.safetensors (inputs,
  expected output, target, loss, gradients, activations), runs forward, L1 loss and backward,
  and prints each tensor's error: max |ours - reference| / max |reference|.
  Exit code 1 when any tensor is over the tolerance.`;

export async function checkReferenceCommand(argv: string[]): Promise<void> {
  const f = parseFlags(argv, {
    model: { type: "string" },
    case: { type: "string" },
    tolerance: { type: "string" },
    verbose: { type: "boolean" },
    help: { type: "boolean" },
  }, "check-reference");
  if (f.help) return console.log(help);
  if (!f.model || !f.case) throw new InputError(`--model and --case are required\n${help}`);
  const tolerance = numberFlag(f.tolerance, "tolerance", 1e-4, { min: 0 });
  let caseBytes: Uint8Array;
  try {
    caseBytes = await Deno.readFile(f.case);
  } catch (e) {
    throw new InputError(`cannot read ${f.case}: ${(e as Error).message}`);
  }
  let reference;
  try {
    reference = readSafetensors(caseBytes);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new InputError(`${f.case}: ${e.message}`);
    throw e;
  }
  const gpu = await getGpu();
  console.log(adapterLine(gpu));
  const loaded = await loadCheckpointFolder(f.model);
  const model = spriteModelFromCheckpoint(gpu, loaded, f.model);
  const weights = loaded.unet;
  let result;
  try {
    result = await checkUNetCase(gpu, model.config, weights, reference, { poison: true });
  } catch (e) {
    throw new InputError(`${f.case}: ${(e as Error).message}`);
  }
  const { rows, unmatched } = result;
  if (f.verbose) {
    for (const r of rows) console.log(`${r.error.toExponential(2).padStart(10)}  ${r.name}`);
  }
  console.log(errorTable(rows));
  if (unmatched.length) console.log(`not compared (no such module here): ${unmatched.join(", ")}`);
  const failures = rows.filter((r) => !(r.error <= tolerance));
  for (const r of failures.slice(0, 20)) {
    console.log(`FAIL ${r.name}: ${r.error.toExponential(3)}`);
  }
  const worst = rows.reduce((a, r) => Math.max(a, r.error), 0);
  if (failures.length || rows.length === 0) {
    console.log(
      `FAIL: ${failures.length} of ${rows.length} tensors over ${tolerance} (worst ${
        worst.toExponential(2)
      })`,
    );
    Deno.exit(1);
  }
  console.log(`PASS: ${rows.length} tensors within ${tolerance} (worst ${worst.toExponential(2)})`);
}
