// The front ends' one error type for bad input (CLI flag, file, HTTP body or query): its message is
// shown to the person as it is, and `status` is the HTTP status a route answers with. The engine's
// own input errors (gpu/runtime/errors.ts) are shown the same way, with status 400, except a result
// that is not finite (422: the input was read, the model could not make sprites of it) and a request
// beyond the memory budget (413, or 503 while a training job holds the memory it needs).
import { EngineInputError, NonFiniteResultError } from "./gpu/runtime/errors.ts";
import { MemoryBudgetError } from "./gpu/runtime/memory.ts";

export class InputError extends EngineInputError {
  constructor(message: string, readonly status = 400) {
    super(message);
  }
}

/** The HTTP status of an error that describes bad input, or undefined for a bug. */
export function inputErrorStatus(e: unknown): number | undefined {
  if (e instanceof InputError) return e.status;
  if (e instanceof MemoryBudgetError) return e.status;
  if (e instanceof NonFiniteResultError) return 422;
  if (e instanceof EngineInputError) return 400;
  return undefined;
}

/**
 * The client went away before its answer (a closed connection, an abandoned upload): nothing is
 * answered and nothing is logged, since nobody is there to read either.
 */
export class ClientGoneError extends Error {
  constructor() {
    super("the client went away");
    this.name = "ClientGoneError";
  }
}
