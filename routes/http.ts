// What every route shares: JSON answers, the {error, detail} error body, bounded JSON bodies and
// checked query and body fields. Every refusal is an InputError carrying its HTTP status, or one of
// the engine's input errors (400).
import { ClientGoneError, InputError } from "../errors.ts";
import type { AppContext } from "./context.ts";

export type Handler = (req: Request, ctx: AppContext, match: URLPatternResult) => Promise<Response>;

export interface Route {
  method: "GET" | "POST" | "DELETE";
  pattern: URLPattern;
  handle: Handler;
}

export function route(method: Route["method"], pathname: string, handle: Handler): Route {
  return { method, pattern: new URLPattern({ pathname }), handle };
}

export const STATUS_TEXT: Record<number, string> = {
  400: "bad request",
  401: "unauthorized",
  403: "forbidden",
  404: "not found",
  405: "method not allowed",
  406: "not acceptable",
  408: "request timeout",
  409: "conflict",
  413: "payload too large",
  415: "unsupported media type",
  422: "unprocessable",
  500: "internal error",
  503: "unavailable",
};

export function json(data: unknown, status = 200, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(data), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

export function errorResponse(status: number, detail: string): Response {
  return json({ error: STATUS_TEXT[status] ?? `status ${status}`, detail }, status);
}

export function png(bytes: Uint8Array, headers: HeadersInit = {}): Response {
  return new Response(bytes as Uint8Array<ArrayBuffer>, {
    headers: { "content-type": "image/png", "cache-control": "no-store", ...headers },
  });
}

/** The headers of a Server-Sent Events response. */
export const EVENT_STREAM_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-store",
};

/** SSE comment lines keep idle connections (and the server's idle timeout) from closing streams. */
const HEARTBEAT_MS = 15_000;

/**
 * A background job's events as Server-Sent Events (/api/train/events, /api/quality/events): the
 * `state` now first; a job that is not running gets it again as "end" and the stream closes.
 * Otherwise `subscribe` forwards the job's events until it sends "end", which closes the stream;
 * its return value unsubscribes (also when the client goes away).
 */
export function jobEvents(
  state: unknown,
  running: boolean,
  subscribe: (event: (name: string, data: unknown) => void) => () => void,
): Response {
  const encoder = new TextEncoder();
  let close = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => controller.enqueue(encoder.encode(text));
      const event = (name: string, data: unknown) =>
        send(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
      event("state", state);
      if (!running) {
        event("end", state);
        return controller.close();
      }
      const heartbeat = setInterval(() => send(": keep-alive\n\n"), HEARTBEAT_MS);
      const stop = subscribe((name, data) => {
        event(name, data);
        if (name === "end") close();
      });
      close = () => {
        clearInterval(heartbeat);
        stop();
        try {
          controller.close();
        } catch { /* the client went away first */ }
      };
    },
    cancel() {
      close();
    },
  });
  return new Response(body, { headers: EVENT_STREAM_HEADERS });
}

/**
 * Reads a JSON object body of at most `limit` bytes within `timeoutMs`: 413 past the size, 408 past
 * the time (a body that trickles or never ends), 400 for anything not JSON, ClientGoneError when the
 * client goes away while sending it.
 */
export async function readJsonObject(
  req: Request,
  limit: number,
  timeoutMs = 10_000,
): Promise<Record<string, unknown>> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > limit) {
    throw new InputError(`the body is ${declared} bytes; the limit is ${limit}`, 413);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    const reader = req.body.getReader();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) =>
      timer = setTimeout(() => resolve("late"), timeoutMs)
    );
    try {
      while (true) {
        let next: ReadableStreamReadResult<Uint8Array> | "late";
        try {
          next = await Promise.race([reader.read(), late]);
        } catch (e) {
          if (req.signal.aborted) throw new ClientGoneError();
          throw new InputError(`the body could not be read: ${(e as Error).message}`);
        }
        if (next === "late") {
          throw new InputError(`the body did not arrive within ${timeoutMs / 1000} s`, 408);
        }
        if (next.done) break;
        size += next.value.length;
        if (size > limit) throw new InputError(`the body is over the limit of ${limit} bytes`, 413);
        chunks.push(next.value);
      }
    } finally {
      clearTimeout(timer);
      reader.cancel().catch(() => {});
    }
  }
  const text = new TextDecoder().decode(concat(chunks, size));
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new InputError(`the body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InputError("the body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * A number field from a JSON body or a query string (where it arrives as text); absent -> fallback.
 * The engine's rule, so HTTP and the CLI accept the same values; it refuses with a RequestError,
 * which the app answers with 400.
 */
export { numberField, type NumberRule } from "../gpu/runtime/fields.ts";

export function queryObject(url: URL): Record<string, string> {
  return Object.fromEntries(url.searchParams.entries());
}
