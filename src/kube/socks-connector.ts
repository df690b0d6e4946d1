import { isIP } from "node:net";
import { type ConnectionOptions, connect as connectTls } from "node:tls";
import { SocksClient } from "socks";
import type { buildConnector } from "undici";

/**
 * How the shared pool connects to the API server through a SOCKS proxy, as a kubeconfig's
 * `proxy-url: socks5://…` (or socks4, socks4a, socks5h) names one: an `ssh -D` tunnel, say.
 * client-node has a connector of its own, private to it, behind a dispatcher of undici's
 * defaults (idle connections closed after 4 s); with this one, the pool keeps them as it keeps
 * direct ones. As client-go does, and client-node does not, the proxy-url's user and password
 * are given to a SOCKS5 proxy that asks for them (RFC 1929); they go nowhere else.
 *
 * `tls` is the API server's TLS settings (CA, client certificate, server name); the proxy's
 * own handshake is bounded by `timeoutMs`, as a forward proxy's CONNECT is.
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
    SocksClient.createConnection({
      proxy: {
        host: withoutBrackets(proxy.hostname),
        port: Number(proxy.port) || 1080,
        type: version,
        ...(userId === undefined ? {} : { userId }),
        ...(password === undefined ? {} : { password }),
      },
      command: "connect",
      destination: {
        host: withoutBrackets(options.hostname),
        port: Number(options.port) || (secure ? 443 : 80),
      },
      timeout: timeoutMs,
    }).then(
      ({ socket }) => {
        // As client-node asks of direct connections: a middlebox's idle cut is noticed.
        socket.setKeepAlive(true, 30_000);
        if (!secure) {
          callback(null, socket);
          return;
        }
        // The certificate is checked against the server name asked for (kubeconfig
        // tls-server-name), else the host; SNI is sent for a name, never for an address.
        const host = withoutBrackets(options.hostname);
        const servername = options.servername || tls.servername || (isIP(host) ? "" : host);
        const tunnelled = connectTls({
          ...tls,
          socket,
          host,
          ...(servername ? { servername } : {}),
        });
        // Handed over once the handshake is done: a failed one fails the connection.
        const failed = (error: Error) => {
          tunnelled.destroy();
          callback(error, null);
        };
        tunnelled.once("error", failed);
        tunnelled.once("secureConnect", () => {
          tunnelled.removeListener("error", failed);
          callback(null, tunnelled);
        });
      },
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error)), null),
    );
  };
}

/** An IPv6 host as a URL writes it (`[::1]`), as a socket wants it (`::1`). */
const withoutBrackets = (host: string): string => host.replace(/^\[(.*)\]$/, "$1");
