// Names files: parsed one name a line (comments and blanks skipped), found beside their labels,
// and what makes a labels file of any width load with its own class names.
import {
  namesFileFor,
  parseClassNames,
  readClassNames,
  writeClassNames,
} from "../../data/class_names.ts";
import { writeNpy } from "../../data/npy.ts";
import { loadSpriteDataset } from "../../data/sprites.ts";
import { dataSourceOf, loadTrainingSet } from "../../data/training_set.ts";
import { assertEquals, assertInputError, assertRejectsInputError } from "./helpers.ts";

Deno.test("class names: one a line, # comments and blank lines skipped; duplicates and numbers refused", async () => {
  assertEquals(parseClassNames("# header\nred\n\n  green  \r\nblue\n"), ["red", "green", "blue"]);
  assertInputError(() => parseClassNames("# only a comment\n"), /no class names/);
  assertInputError(
    () => parseClassNames("a\nb\nA\n", "f.txt"),
    /f.txt: the class name "A" appears twice/,
  );
  assertInputError(() => parseClassNames("a\n7\n"), /"7" is a number/);
  assertEquals(namesFileFor("out/k8/labels.npy"), "out/k8/labels.names.txt");
  const dir = await Deno.makeTempDir();
  try {
    await writeClassNames(`${dir}/n.txt`, ["x", "y"], "two lines\nof comment");
    assertEquals(await readClassNames(`${dir}/n.txt`), ["x", "y"]);
    assertEquals((await Deno.readTextFile(`${dir}/n.txt`)).split("\n")[0], "# two lines");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("class names: labels of width K load with the names beside them, or --names, or not at all", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const n = 6;
    // White sprites (they pass the cleaning rule), 3 classes one-hot.
    await writeNpy(`${dir}/s.npy`, new Uint8Array(n * 16 * 16 * 3).fill(255), [n, 16, 16, 3]);
    const labels = new Float64Array(n * 3);
    for (let i = 0; i < n; i++) labels[i * 3 + (i % 3)] = 1;
    await writeNpy(`${dir}/l.npy`, labels, [n, 3]);
    await assertRejectsInputError(
      () => loadSpriteDataset(`${dir}/s.npy`, `${dir}/l.npy`),
      /the labels have 3 columns, so their 3 classes need names: write them one per line in .*l\.names\.txt/,
    );
    await writeClassNames(`${dir}/l.names.txt`, ["orb", "gem", "sword"]);
    const ds = await loadSpriteDataset(`${dir}/s.npy`, `${dir}/l.npy`);
    assertEquals(ds.classNames, ["orb", "gem", "sword"]);
    assertEquals(Array.from(ds.labels.subarray(0, 6)), [1, 0, 0, 0, 1, 0]);
    // An explicit names file wins over the one beside, and a model's own names over both.
    await writeClassNames(`${dir}/other.txt`, ["a", "b", "c"]);
    const src = dataSourceOf({
      sprites: `${dir}/s.npy`,
      labels: `${dir}/l.npy`,
      names: `${dir}/other.txt`,
    });
    assertEquals((await loadTrainingSet(src)).dataset.classNames, ["a", "b", "c"]);
    assertEquals((await loadTrainingSet(src, ["p", "q", "r"])).dataset.classNames, ["p", "q", "r"]);
    // A names file of the wrong length: the labels' width is named.
    await writeClassNames(`${dir}/l.names.txt`, ["orb", "gem"]);
    await assertRejectsInputError(
      () => loadSpriteDataset(`${dir}/s.npy`, `${dir}/l.npy`),
      /labels must have 2 columns \(2 classes\), got \[6,3\]/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
