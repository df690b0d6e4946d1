import { isIP, type Socket } from "node:net";
import { constants } from "node:os";
import { type ConnectionOptions, connect as connectTls } from "node:tls";
import { SocksClient } from "socks";
import type { buildConnector } from "undici";

/**
 * How the shared pool connects to the API server through a SOCKS proxy, as a kubeconfig's
 * `proxy-url: socks5://…` names one: an `ssh -D` tunnel, say. client-node has a connector of
 * its own, private to it, behind a dispatcher of undici's defaults (idle connections closed
 * after 4 s); with this one, the pool keeps them as it keeps direct ones. As client-go does,
 * and client-node does not, the proxy-url's user and password are given to a SOCKS5 proxy
 * that asks for them (RFC 1929); they go nowhere else, errors included.
 *
 * `socks4://` and `socks4a://` speak SOCKS4 (a host name is sent as 4a does); any other
 * scheme SOCKS5, where the proxy resolves the host name (as `socks5h://` says). `tls` is the
 * API server's TLS settings (CA, client certificate, server name). The proxy's handshake and
 * then the API server's TLS handshake must be done within `timeoutMs`, as a forward proxy's
 * CONNECT must be answered: undici's own connect time-out is only for its own connector.
 */
export function socksConnector(
  proxyUrl: string,
  tls: ConnectionOptions,
  timeoutMs: number,
): buildConnector.connector {
  const proxy = new URL(proxyUrl);
  const version = proxy.protocol.startsWith("socks4") ? 4 : 5;
  const userId = proxy.username ? decodeURIComponent(proxy.username) : undefined;
  const password = proxy.password ? decodeURIComponent(proxy.password) : undefined;
  return (options, callback) => {
    const secure = options.protocol === "https:";
    const host = withoutBrackets(options.hostname);
    let tunnel: Socket | undefined;
    let settled = false;
    let deadline: NodeJS.Timeout | undefined;
    // undici is told once: the connection, or why there is none (and nothing is left open).
    const settle = (error: Error | null, socket: Socket | null) => {
      if (settled) {
        socket?.destroy();
        return;
      }
      settled = true;
      clearTimeout(deadline);
      if (error || !socket) {
        tunnel?.destroy();
        callback(error ?? new Error("no connection"), null);
      } else callback(null, socket);
    };
    deadline = setTimeout(
      () => settle(connectError("UND_ERR_CONNECT_TIMEOUT", "timed out"), null),
      timeoutMs,
    );
    deadline.unref(); // the sockets being connected keep the process up, not this timer
    SocksClient.createConnection({
      proxy: {
        host: withoutBrackets(proxy.hostname),
        port: Number(proxy.port) || 1080,
        type: version,
        ...(userId === undefined ? {} : { userId }),
        ...(password === undefined ? {} : { password }),
      },
      command: "connect",
      destination: { host, port: Number(options.port) || (secure ? 443 : 80) },
      timeout: timeoutMs,
    }).then(
      ({ socket }) => {
        tunnel = socket;
        if (settled) {
          socket.destroy();
          return;
        }
        // Listening for errors for good, as undici's own connector does: one that comes after
        // the hand-over, before undici listens, fails nothing twice and crashes nothing.
        socket.on("error", (error) => settle(error, null));
        // As undici and client-node set up direct connections: no Nagle delay on a request
        // written in parts, and a middlebox's idle cut noticed.
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 30_000);
        if (!secure) {
          settle(null, socket);
          return;
        }
        try {
          // The certificate is checked against the server name asked for (kubeconfig
          // tls-server-name), else the host; SNI is sent for a name, never for an address.
          const servername = options.servername || tls.servername || (isIP(host) ? "" : host);
          const tunnelled = connectTls({
            ...tls,
            socket,
            host,
            ...(servername ? { servername } : {}),
          });
          tunnel = tunnelled;
          tunnelled.on("error", (error) => settle(error, null));
          tunnelled.once("secureConnect", () => settle(null, tunnelled));
        } catch (error) {
          // A key or certificate TLS cannot read throws here (a rotated file caught half
          // written): the call fails, as undici fails it for a direct connection.
          settle(error instanceof Error ? error : new Error("TLS could not start"), null);
        }
      },
      (error: unknown) => settle(socksError(error), null),
    );
  };
}

/**
 * The SOCKS client's error, told again without what it carries: its options hold the proxy's
 * user and password, and a system error's message the proxy's address. What is kept is a
 * code: the system's (ECONNREFUSED; ECONNRESET, which a read may be repeated after), or what
 * the proxy said, as one of ours.
 */
function socksError(error: unknown): Error {
  const said = error instanceof Error ? error.message : "";
  if (/authentication failed/i.test(said)) return connectError("ESOCKS_AUTH", "was refused");
  if (/rejected connection/i.test(said)) return connectError("ESOCKS_REJECTED", "was refused");
  if (/timed out/i.test(said)) return connectError("UND_ERR_CONNECT_TIMEOUT", "timed out");
  // A word of the message that is a system error's code, and nothing else of it.
  const system = said
    .split(/[^A-Z0-9_]+/)
    .find((word) => Object.hasOwn(constants.errno, word) || /^EAI_[A-Z]+$/.test(word));
  return connectError(system ?? "ESOCKS", "failed");
}

function connectError(code: string, what: string): Error {
  return Object.assign(new Error(`the connection through the SOCKS proxy ${what} (${code})`), {
    code,
  });
}

/** An IPv6 host as a URL writes it (`[::1]`), as a socket wants it (`::1`). */
const withoutBrackets = (host: string): string => host.replace(/^\[(.*)\]$/, "$1");
