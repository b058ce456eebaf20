// What a request must show before any route sees it, so that a web page the user happens to visit
// cannot drive the service (cross-site requests, DNS rebinding), and the training token's checks.
//
// - Host: one of the names the server serves (loopback names by default, --allowed-hosts for
//   more); a page on evil.example whose name resolves to 127.0.0.1 sends Host: evil.example.
// - Sec-Fetch-Site: cross-site -> refused on every /api/ route (browsers send it; curl does not),
//   so another site cannot even start a generation with an <img>.
// - Mutating methods (POST, DELETE): an Origin, when sent, must be the server's own (browsers send
//   one with every cross-origin POST, and with same-origin ones too); a body must be
//   application/json, which a page on another origin cannot send without a CORS preflight that this
//   server never grants. A request without a body (a stop, a swap) needs no content type.
import { InputError } from "../errors.ts";
import type { AppContext } from "./context.ts";

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** The host name of a Host header or origin authority, lower case, without port or brackets. */
export function hostName(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith("[")) return a.slice(1, a.indexOf("]") < 0 ? undefined : a.indexOf("]"));
  const colon = a.indexOf(":");
  return colon < 0 ? a : a.slice(0, colon);
}

/** Throws InputError (403 or 415) for a request that fails the checks above. */
export function checkRequest(req: Request, ctx: AppContext): void {
  const url = new URL(req.url);
  const host = req.headers.get("host") ?? url.host;
  if (!ctx.allowedHosts.includes(hostName(host))) {
    throw new InputError(
      `this server does not serve the host "${host.slice(0, 100)}" (it serves ` +
        `${ctx.allowedHosts.join(", ")}; start it with --allowed-hosts to add names)`,
      403,
    );
  }
  const api = url.pathname.startsWith("/api/");
  if (api && req.headers.get("sec-fetch-site") === "cross-site") {
    throw new InputError("requests from other sites are refused", 403);
  }
  if (!MUTATING.has(req.method)) return;
  const origin = req.headers.get("origin");
  if (origin !== null) {
    let same = false;
    try {
      same = new URL(origin).host.toLowerCase() === host.toLowerCase();
    } catch { /* "null" or garbage: not the server's own */ }
    if (!same) {
      throw new InputError(
        `${req.method} from the origin ${origin.slice(0, 100)} is refused: only the server's own ` +
          "page (or a client without an Origin, such as curl) may change things",
        403,
      );
    }
  }
  if (hasBody(req)) {
    const type = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (type !== "application/json") {
      throw new InputError(
        `the body must be JSON, sent with "Content-Type: application/json" (got ${
          type ? `"${type.slice(0, 100)}"` : "none"
        })`,
        415,
      );
    }
  }
}

function hasBody(req: Request): boolean {
  const length = req.headers.get("content-length");
  if (length !== null) return Number(length) > 0;
  return req.headers.has("transfer-encoding");
}

/** Equal strings in time that does not depend on where they differ. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * The training routes: on only with --allow-train, and with a token only as
 * `Authorization: Bearer TOKEN` (the scheme in any case).
 */
export function authorizeTraining(req: Request, ctx: AppContext): void {
  if (!ctx.allowTrain) {
    throw new InputError("training is off: start the server with --allow-train", 403);
  }
  checkToken(req, ctx, "training");
}

/**
 * The server's token, when it has one, as `Authorization: Bearer TOKEN`: training, and starting an
 * evaluation (a long stretch of GPU work). A token in the URL is refused: URLs end up in logs,
 * histories and Referer headers.
 */
export function checkToken(req: Request, ctx: AppContext, what: string): void {
  if (new URL(req.url).searchParams.has("token")) {
    throw new InputError(
      "send the token as an Authorization: Bearer header, not in the URL (URLs are logged)",
      400,
    );
  }
  if (!ctx.token) return;
  const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.get("authorization") ?? "");
  if (!m || !sameSecret(m[1], ctx.token)) {
    throw new InputError(`${what} needs the server's token (Authorization: Bearer TOKEN)`, 401);
  }
}
