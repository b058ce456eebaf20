// The per-step scalars a recipe schedules on the host: the learning rate (constant, or diffusers'
// get_cosine_schedule_with_warmup) and the EMA's decay (diffusers' EMAModel.get_decay with its
// warm-up). `step` counts optimizer steps from 0 (the step about to run).
import type { TrainRecipe } from "./recipe.ts";

/** The learning rate of step `step` of `totalSteps`: linear warm-up, then constant or cosine. */
export function learningRateAt(
  r: Pick<TrainRecipe, "lr" | "lrSchedule" | "warmupSteps">,
  step: number,
  totalSteps: number,
): number {
  if (step < r.warmupSteps) return r.lr * (step + 1) / r.warmupSteps;
  if (r.lrSchedule === "constant") return r.lr;
  const span = Math.max(1, totalSteps - r.warmupSteps);
  const progress = Math.min(1, (step - r.warmupSteps) / span);
  return r.lr * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/** diffusers' EMA warm-up defaults for training scripts: inv_gamma 1, power 3/4. */
export const EMA_POWER = 0.75;
export const EMA_INV_GAMMA = 1;

/**
 * The decay of the EMA update after optimizer step `done` (1, 2, ...): 0 for the first, so the
 * average starts as the weights, then 1 - (1 + (done - 1) / inv_gamma)^-power, at most `maxDecay`.
 */
export function emaDecayAt(maxDecay: number, done: number): number {
  const step = done - 1;
  if (step <= 0) return 0;
  const decay = 1 - (1 + step / EMA_INV_GAMMA) ** -EMA_POWER;
  return Math.max(0, Math.min(maxDecay, decay));
}
