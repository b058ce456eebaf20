// The one error type for bad input (CLI flag, file, HTTP body or query): its message is shown to
// the person as it is, and `status` is the HTTP status a route answers with.
export class InputError extends Error {
  constructor(message: string, readonly status = 400) {
    super(message);
    this.name = "InputError";
  }
}
