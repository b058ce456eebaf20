// How the page talks to the server: JSON calls whose errors carry the API's `detail`, the training
// token sent as an Authorization header (asked for once, kept in this tab's session storage, never
// in a URL: the server refuses ?token=), and Server-Sent Events read from a fetch() body, since
// EventSource can neither POST a request nor send a header.

const TOKEN_KEY = "sprite-diffusion-token";

/** The training token this tab was given, if any. */
export function savedToken(): string {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}

export function saveToken(token: string): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* storage off: the token lasts as long as the page */ }
  memoryToken = token;
}

let memoryToken = "";
const token = () => memoryToken || savedToken();

/** An error answer: its HTTP status and the API's `detail`. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** The request's headers, with the token on the training and quality routes. */
function headersFor(path: string, init?: RequestInit): Headers {
  const headers = new Headers(init?.headers);
  const t = token();
  if (t && (path.startsWith("/api/train") || path.startsWith("/api/quality"))) {
    headers.set("authorization", `Bearer ${t}`);
  }
  if (init?.body !== undefined && !headers.has("content-type")) {
    headers.set("content-type", "application/json");
  }
  return headers;
}

async function failure(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    const body = JSON.parse(text);
    return new ApiError(res.status, `${body.error ?? res.status}: ${body.detail ?? text}`);
  } catch {
    return new ApiError(res.status, `${res.status}: ${text.slice(0, 200)}`);
  }
}

/** Fetches JSON; an error answer throws ApiError. */
export async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(path, { ...init, headers: headersFor(path, init) });
  if (!res.ok) throw await failure(res);
  return await res.json() as T;
}

/** Fetches an image (with the token where needed) as an object URL for an <img>. */
export async function imageUrl(path: string, signal?: AbortSignal): Promise<string> {
  const res = await fetch(path, { headers: headersFor(path), signal });
  if (!res.ok) throw await failure(res);
  return URL.createObjectURL(await res.blob());
}

/**
 * Reads a Server-Sent Events answer to `path` (GET, or POST with `body`), calling `onEvent` for
 * each event until the stream ends or `signal` aborts. An error answer (before any event) throws
 * ApiError.
 */
export async function readEvents(
  path: string,
  onEvent: (name: string, data: unknown) => void,
  o: { body?: unknown; signal?: AbortSignal } = {},
): Promise<void> {
  const init: RequestInit = o.body === undefined
    ? { signal: o.signal }
    : { method: "POST", body: JSON.stringify(o.body), signal: o.signal };
  const headers = headersFor(path, init);
  headers.set("accept", "text/event-stream");
  const res = await fetch(path, { ...init, headers });
  if (!res.ok) throw await failure(res);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (block.startsWith(":")) continue; // a keep-alive comment
      const name = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
      const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6))
        .join("\n");
      onEvent(name, data ? JSON.parse(data) : null);
    }
  }
}
