// The front ends' one error type for bad input (CLI flag, file, HTTP body or query): its message is
// shown to the person as it is, and `status` is the HTTP status a route answers with. The engine's
// own input errors (gpu/runtime/errors.ts) are shown the same way, with status 400.
import { EngineInputError } from "./gpu/runtime/errors.ts";

export class InputError extends EngineInputError {
  constructor(message: string, readonly status = 400) {
    super(message);
  }
}

/** The HTTP status of an error that describes bad input, or undefined for a bug. */
export function inputErrorStatus(e: unknown): number | undefined {
  if (e instanceof InputError) return e.status;
  if (e instanceof EngineInputError) return 400;
  return undefined;
}
