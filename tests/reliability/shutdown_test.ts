// `deno task start` as a child process: SIGTERM during a training job waits for the job's
// checkpoint (a mid-epoch one here, which `deno task train --resume` continues) and exits 0; before,
// the server exited at once and the job left nothing.
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { readTrainingState } from "../../data/run_folder.ts";
import { postJson, startService, tinyConfigFile } from "./helpers.ts";

Deno.test({
  name: "shutdown: SIGTERM mid-job writes the job's checkpoint before the server exits",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "shutdown_" });
    try {
      const config = await tinyConfigFile(dir);
      const service = await startService(dir, [
        "--random-init",
        "--config",
        config,
        "--allow-train",
      ]);
      const started = await fetch(
        `${service.url}/api/train`,
        postJson({ batch: 4, epochs: 1, log_every: 1 }),
      );
      const job = await started.json();
      assertEquals(started.status, 202, JSON.stringify(job));
      let state = job;
      for (let i = 0; i < 300 && state.progress.step < 3; i++) {
        await new Promise((r) => setTimeout(r, 50));
        state = await (await fetch(`${service.url}/api/train`)).json();
      }
      ok(state.progress.step >= 3, JSON.stringify(state.progress));
      service.child.kill("SIGTERM");
      const status = await service.status;
      assertEquals(status.code, 0, service.output());
      ok(/SIGTERM: stopping/.test(service.output()) && /stopped/.test(service.output()));
      const checkpoint = `${dir}/runs/${job.run}/checkpoint`;
      const saved = await readTrainingState(checkpoint);
      ok(saved.state.step >= 3 && saved.state.stepInEpoch > 0, JSON.stringify(saved.state));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
