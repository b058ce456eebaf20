// The training progress line on stderr: redrawn in place on a terminal, one line per loss readback
// otherwise (logs, CI), with step/total, it/s, loss and ETA.
import type { StepLog } from "../gpu/train/trainer.ts";

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, "0");
  return h ? `${h}h${pad(m)}m` : `${m}m${pad(s % 60)}s`;
}

export class ProgressLine {
  private readonly tty = Deno.stderr.isTerminal();
  private readonly encoder = new TextEncoder();
  /** Smoothed steps per second (the first readback includes warm-up, so it is averaged out). */
  private rate = 0;
  private drawn = false;

  constructor(readonly totalSteps: number, readonly epochs: number) {}

  private write(text: string): void {
    Deno.stderr.writeSync(this.encoder.encode(text));
  }

  update(l: StepLog): void {
    this.rate = this.rate ? 0.7 * this.rate + 0.3 * l.itPerSec : l.itPerSec;
    const width = 20;
    const filled = Math.round((l.stepInEpoch / l.stepsPerEpoch) * width);
    const bar = "#".repeat(filled) + "-".repeat(width - filled);
    const eta = (this.totalSteps - l.step) / this.rate;
    const line =
      `epoch ${l.epoch + 1}/${this.epochs} [${bar}] ${l.stepInEpoch}/${l.stepsPerEpoch}` +
      ` | step ${l.step}/${this.totalSteps} | ${l.itPerSec.toFixed(2)} it/s | loss ` +
      `${l.loss.toFixed(5)} | ETA ${duration(eta)}` +
      (l.lossScale ? ` | scale ${l.lossScale.scale} (${l.lossScale.skipped} skipped)` : "");
    if (this.tty) {
      this.write(`\r\x1b[K${line}`);
      this.drawn = true;
    } else {
      this.write(line + "\n");
    }
  }

  /** A message on a line of its own (the progress line is redrawn after it). */
  note(message: string): void {
    this.write(this.tty && this.drawn ? `\r\x1b[K${message}\n` : `${message}\n`);
    this.drawn = false;
  }

  finish(): void {
    if (this.tty && this.drawn) this.write("\n");
    this.drawn = false;
  }
}
