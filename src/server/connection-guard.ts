import type { Server as HttpServer, IncomingMessage, ServerResponse } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { Socket } from "node:net";

/**
 * Why the guard closed a connection: to make room, the one idle longest (`evicted-idle`) or,
 * with none idle, the new one (`refused`); or no request arrived in time (`no-request`).
 */
export type ShedReason = "evicted-idle" | "refused" | "no-request";

export interface ConnectionGuardOptions {
  /** Connections open at once, TLS handshakes included. */
  readonly max: number;
  /**
   * A connection must have sent a whole request head this long after it opened. (Node's
   * headersTimeout starts only with a request's first byte: a client that completes the TLS
   * handshake and then sends nothing would otherwise be kept for ever.)
   */
  readonly firstRequestTimeoutMs: number;
  readonly onShed?: (reason: ShedReason) => void;
  readonly onCount?: (open: number) => void;
  readonly now?: () => number;
}

interface Tracked {
  readonly socket: Socket;
  /** Requests received on it and not yet answered. */
  busy: number;
  /** Requests answered on it: a client that has been served before is kept longest. */
  served: number;
  /** Since when nothing has been in flight (the connect time until a first request). */
  idleSince: number;
}

/**
 * Caps the connections of a server at `max`. When a new one would pass the cap, the
 * connection that is doing nothing makes room: first one that has never had a request
 * answered (a handshake or request line that does not come, the way a flood looks), oldest
 * first, then the keep-alive connection idle longest. Only when every connection has a request
 * in flight is the new one refused. So a flood of idle connections cannot lock the API server
 * out, while the timeouts (handshake, headers, request, keep-alive) bound what each one holds.
 *
 * Connections are tracked by their TCP socket, linked to the TLS socket by the peer's address
 * and port (unique among open connections on one listener).
 */
export function guardConnections(
  server: HttpsServer | HttpServer,
  options: ConnectionGuardOptions,
): { open(): number } {
  const now = options.now ?? Date.now;
  const open = new Map<Socket, Tracked>();
  const byPeer = new Map<string, Tracked>();
  const bySocket = new WeakMap<Socket, Tracked>();
  const peer = (socket: Socket) => `${socket.remoteAddress}|${socket.remotePort}`;
  const counted = () => options.onCount?.(open.size);

  const victim = (except: Tracked): Tracked | undefined => {
    let best: Tracked | undefined;
    for (const tracked of open.values()) {
      if (tracked === except || tracked.busy > 0) continue;
      if (
        !best ||
        (tracked.served === 0 && best.served > 0) ||
        ((tracked.served === 0) === (best.served === 0) && tracked.idleSince < best.idleSince)
      )
        best = tracked;
    }
    return best;
  };

  server.on("connection", (socket: Socket) => {
    const tracked: Tracked = { socket, busy: 0, served: 0, idleSince: now() };
    const key = peer(socket);
    open.set(socket, tracked);
    byPeer.set(key, tracked);
    bySocket.set(socket, tracked);
    const silent = setTimeout(() => {
      if (tracked.busy > 0 || tracked.served > 0) return;
      socket.destroy();
      options.onShed?.("no-request");
    }, options.firstRequestTimeoutMs);
    silent.unref();
    socket.once("close", () => {
      clearTimeout(silent);
      open.delete(socket);
      if (byPeer.get(key) === tracked) byPeer.delete(key);
      counted();
    });
    if (open.size > options.max) {
      const evicted = victim(tracked);
      if (evicted) {
        evicted.socket.destroy();
        options.onShed?.("evicted-idle");
      } else {
        socket.destroy();
        options.onShed?.("refused");
      }
    }
    counted();
  });

  // For HTTPS the request arrives on the TLS socket: link it to its TCP socket once.
  server.on("secureConnection", (tls: Socket) => {
    const tracked = byPeer.get(peer(tls));
    if (tracked) bySocket.set(tls, tracked);
  });

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const tracked = bySocket.get(req.socket);
    if (!tracked) return;
    tracked.busy++;
    res.once("close", () => {
      tracked.busy--;
      tracked.served++;
      tracked.idleSince = now();
    });
  });

  return { open: () => open.size };
}
