/**
 * A forward proxy that answers HTTP CONNECT only, as a kubeconfig's `proxy-url` names one:
 * it opens a TCP tunnel to the host the client asks for and records each tunnel, so a test
 * sees which requests went through it and how often the client opened a new connection.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { connect, type Socket } from "node:net";

export interface ConnectProxy {
  readonly url: string;
  /** The `host:port` of each tunnel opened, in order. */
  readonly tunnels: string[];
  /** The `host:port` of each CONNECT refused for want of credentials. */
  readonly refused: string[];
  close(): Promise<void>;
}

export interface ConnectProxyOptions {
  /** Takes each CONNECT and never answers it, as a proxy that hangs. */
  readonly silent?: boolean;
  /** `user:password` a CONNECT must carry (Basic Proxy-Authorization), else 407. */
  readonly credentials?: string;
  /** Speaks TLS with this certificate and key (PEM): an `https://` proxy. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export async function startConnectProxy(options: ConnectProxyOptions = {}): Promise<ConnectProxy> {
  const tunnels: string[] = [];
  const refused: string[] = [];
  const open = new Set<Socket>();
  const refuse = (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(405).end(); // a plain request: this proxy only tunnels
  };
  const server = options.tls ? createHttpsServer(options.tls, refuse) : createServer(refuse);
  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? "";
    const [host, port] = [target.slice(0, target.lastIndexOf(":")), target.split(":").pop()];
    const expected = `Basic ${Buffer.from(options.credentials ?? "").toString("base64")}`;
    if (options.credentials && req.headers["proxy-authorization"] !== expected) {
      refused.push(target);
      client.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="stand-in"\r\nContent-Length: 0\r\n\r\n',
      );
      return;
    }
    tunnels.push(target);
    if (options.silent) {
      open.add(client);
      client.on("close", () => open.delete(client));
      client.on("error", () => client.destroy());
      return;
    }
    const upstream = connect(Number(port), host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on("close", () => open.delete(socket));
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tunnels,
    refused,
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
