// The socket in front of the app, with the timeouts Deno.serve does not have: a request head must
// arrive within `readTimeoutMs` of its first byte (or of the connection, for the first request), a
// kept-alive connection with no traffic either way is closed after `idleTimeoutMs`, and at most
// `maxConnections` are open at once (more are answered 503 and closed). A body's own deadline is the
// app's (readJsonObject). Connections are relayed to Deno.serve on a private unix socket, so a
// client that goes away closes its request there too (req.signal aborts, and waiting GPU work is
// cancelled).
//
// The relay knows just enough HTTP for that: client bytes until a blank line are a request head,
// then the request is in progress (no timer: the work is bounded by the request limits) until the
// server answers; from the answer on the connection idles until the next request's first byte.
// A Server-Sent Events stream stays open through its heartbeats.
import { InputError } from "../errors.ts";

export interface ServerOptions {
  hostname: string;
  port: number;
  /** The most a request head may take (default 10 s). */
  readTimeoutMs?: number;
  /** How long a connection may sit with no traffic between requests (default 30 s). */
  idleTimeoutMs?: number;
  /** Connections open at once (default 256). */
  maxConnections?: number;
  onListen?: (addr: Deno.NetAddr) => void;
}

export interface ServerStats {
  open: number;
  accepted: number;
  /** Closed because a head did not arrive in time. */
  headTimeouts: number;
  /** Closed after sitting idle. */
  idleTimeouts: number;
  /** Answered 503 at once: too many connections. */
  refused: number;
}

export interface Server {
  addr: Deno.NetAddr;
  stats(): ServerStats;
  /** Stops accepting, lets requests in flight finish, then closes every connection. */
  shutdown(): Promise<void>;
  finished: Promise<void>;
}

type Phase = "head" | "request" | "response";

interface Relay {
  phase: Phase;
  /** When the current head started arriving (or the connection opened). */
  headSince: number;
  lastTraffic: number;
  /** The last 3 bytes of the head so far, to find a blank line split across reads. */
  carry: number[];
  close(reason?: "head" | "idle" | "shutdown"): void;
}

function rawResponse(status: number, reason: string, detail: string): Uint8Array {
  const body = JSON.stringify({ error: reason, detail });
  return new TextEncoder().encode(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `connection: close\r\ncontent-length: ${
        new TextEncoder().encode(body).length
      }\r\n\r\n${body}`,
  );
}

/** Whether `chunk` completes a head (CRLF CRLF), given the head's last bytes before it. */
function endsHead(relay: Relay, chunk: Uint8Array): boolean {
  const window = [...relay.carry, ...chunk.subarray(0, 3)];
  const scan = (bytes: ArrayLike<number>, from: number) => {
    for (let i = from; i + 3 < bytes.length; i++) {
      if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
        return true;
      }
    }
    return false;
  };
  const found = scan(window, 0) || scan(chunk, 0);
  const all = [...relay.carry, ...chunk.subarray(Math.max(0, chunk.length - 3))];
  relay.carry = all.slice(-3);
  return found;
}

async function pump(
  from: Deno.Conn,
  to: Deno.Conn,
  onData: (chunk: Uint8Array) => void,
): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  while (true) {
    const n = await from.read(buf);
    if (n === null) return;
    const chunk = buf.subarray(0, n);
    onData(chunk);
    let at = 0;
    while (at < n) at += await to.write(chunk.subarray(at));
  }
}

/** The listening socket, or an InputError saying in one line why there is none. */
function listen(hostname: string, port: number): Deno.Listener {
  const where = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  try {
    return Deno.listen({ hostname, port });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new InputError(
        `port ${port} on ${hostname} is in use (another server, or a second start?): stop it or ` +
          "pass --port N",
      );
    }
    if (e instanceof Deno.errors.AddrNotAvailable) {
      throw new InputError(`cannot listen on ${where}: ${hostname} is not an address of this host`);
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new InputError(
        `cannot listen on ${where}: permission denied (ports below 1024 need privileges)`,
      );
    }
    throw new InputError(`cannot listen on ${where}: ${(e as Error).message}`);
  }
}

/**
 * Serves `handler` on hostname:port behind the relay. A port that cannot be had (in use, not an
 * address of this host) is an InputError, thrown before anything else is set up.
 */
export async function serve(
  handler: (req: Request) => Response | Promise<Response>,
  o: ServerOptions,
): Promise<Server> {
  const readTimeout = o.readTimeoutMs ?? 10_000;
  const idleTimeout = o.idleTimeoutMs ?? 30_000;
  const maxConnections = o.maxConnections ?? 256;
  // The public socket first: a port in use is refused before anything else is set up.
  const listener = listen(o.hostname, o.port);
  const addr = listener.addr as Deno.NetAddr;
  const dir = await Deno.makeTempDir({ prefix: "sprite-serve-" });
  const path = `${dir}/http.sock`;
  const inner = Deno.serve({ path, transport: "unix", onListen() {} }, handler);
  const relays = new Set<Relay>();
  const stats = { accepted: 0, headTimeouts: 0, idleTimeouts: 0, refused: 0 };
  let stopping = false;
  /** Connections accepted and not yet closed (counted before their relay is set up). */
  let open = 0;

  const tick = setInterval(() => {
    const now = performance.now();
    for (const r of relays) {
      if (r.phase === "head" && now - r.headSince > readTimeout) r.close("head");
      else if (r.phase === "response" && now - r.lastTraffic > idleTimeout) r.close("idle");
    }
  }, Math.max(20, Math.min(500, readTimeout / 4, idleTimeout / 4)));

  const relay = async (client: Deno.Conn) => {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ transport: "unix", path });
    } catch {
      client.close();
      return;
    }
    let closed = false;
    const r: Relay = {
      phase: "head",
      headSince: performance.now(),
      lastTraffic: performance.now(),
      carry: [],
      close(reason) {
        if (closed) return;
        closed = true;
        relays.delete(r);
        if (reason === "head") {
          stats.headTimeouts++;
          // Answered only if the server has not begun to: a head that never came.
          client.write(rawResponse(
            408,
            "request timeout",
            `the request head did not arrive within ${readTimeout / 1000} s`,
          )).catch(() => {}).finally(() => {
            try {
              client.close();
            } catch { /* closed already */ }
          });
        } else {
          if (reason === "idle") stats.idleTimeouts++;
          try {
            client.close();
          } catch { /* closed already */ }
        }
        try {
          upstream.close();
        } catch { /* closed already */ }
      },
    };
    relays.add(r);
    const fromClient = pump(client, upstream, (chunk) => {
      const now = performance.now();
      r.lastTraffic = now;
      if (r.phase === "response") {
        r.phase = "head";
        r.headSince = now;
        r.carry = [];
      }
      if (r.phase === "head") {
        if (endsHead(r, chunk)) r.phase = "request";
      }
    });
    const fromServer = pump(upstream, client, () => {
      r.lastTraffic = performance.now();
      if (r.phase === "request") r.phase = "response";
    });
    // Either side ending ends both: a client gone closes its request in Deno.serve.
    await Promise.race([fromClient, fromServer]).catch(() => {});
    r.close(stopping ? "shutdown" : undefined);
    await Promise.allSettled([fromClient, fromServer]);
  };

  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        stats.accepted++;
        if (open >= maxConnections || stopping) {
          stats.refused++;
          conn.write(rawResponse(
            503,
            "unavailable",
            `the server holds ${maxConnections} connections at most; try again`,
          )).catch(() => {}).finally(() => {
            try {
              conn.close();
            } catch { /* closed already */ }
          });
          continue;
        }
        open++;
        relay(conn).finally(() => open--);
      }
    } catch {
      // The listener closed.
    }
  })();
  o.onListen?.(addr);

  let done: Promise<void> | undefined;
  const shutdown = () => {
    done ??= (async () => {
      stopping = true;
      try {
        listener.close();
      } catch { /* closed already */ }
      await accepting;
      // Connections between requests go now; requests in flight are answered first.
      for (const r of relays) if (r.phase !== "request") r.close("shutdown");
      await inner.shutdown();
      for (const r of relays) r.close("shutdown");
      clearInterval(tick);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
    return done;
  };
  return {
    addr,
    stats: () => ({ ...stats, open }),
    shutdown,
    finished: inner.finished,
  };
}
