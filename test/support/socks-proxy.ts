/**
 * A SOCKS5 proxy (RFC 1928), CONNECT only, as a kubeconfig's `proxy-url: socks5://…` names
 * one (an `ssh -D` tunnel, say): it opens a TCP tunnel to the host the client asks for and
 * records each tunnel, so a test sees which requests went through it and how often the client
 * opened a new connection. With `credentials`, it asks for a user and password (RFC 1929).
 */
import type { AddressInfo } from "node:net";
import { connect, createServer, type Socket } from "node:net";
import type { ConnectProxy } from "./connect-proxy.js";

export interface SocksProxyOptions {
  /** `user:password` the client must give, else the proxy refuses it. */
  readonly credentials?: string;
  /** Takes each connection and never answers its greeting, as a proxy that hangs. */
  readonly silent?: boolean;
  /**
   * Says each tunnel is open and carries nothing through it, as a proxy that answers before
   * its own connection is made and then never makes it.
   */
  readonly stalled?: boolean;
}

const VERSION = 5;
const NO_AUTHENTICATION = 0;
const USER_PASSWORD = 2;
const NO_ACCEPTABLE_METHOD = 0xff;
const CONNECT = 1;
const SUCCEEDED = 0;
const CONNECTION_REFUSED = 5;
const COMMAND_NOT_SUPPORTED = 7;

export async function startSocksProxy(options: SocksProxyOptions = {}): Promise<ConnectProxy> {
  const tunnels: string[] = [];
  const refused: string[] = [];
  const open = new Set<Socket>();
  const track = (socket: Socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    socket.on("error", () => socket.destroy());
  };
  const server = createServer((client) => {
    track(client);
    if (options.silent) return;
    handshake(client, options.credentials, refused).then(
      (asked) => {
        if (!asked) return;
        const { target, host, port, early } = asked;
        if (options.stalled) {
          tunnels.push(target);
          client.write(reply(SUCCEEDED));
          client.resume(); // and drop what comes
          return;
        }
        const upstream = connect(port, host, () => {
          tunnels.push(target);
          client.write(reply(SUCCEEDED));
          if (early.length > 0) upstream.write(early);
          upstream.pipe(client);
          client.pipe(upstream);
        });
        track(upstream);
        upstream.on("error", () => client.end(reply(CONNECTION_REFUSED)));
        client.on("close", () => upstream.destroy());
        upstream.on("close", () => client.destroy());
      },
      () => client.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `socks5://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tunnels,
    refused,
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The greeting, the authentication when asked for, and the request; resolves to where the
 * client wants to go (and whatever it sent past its request), or undefined once refused.
 */
async function handshake(
  client: Socket,
  credentials: string | undefined,
  refused: string[],
): Promise<{ target: string; host: string; port: number; early: Buffer } | undefined> {
  const read = reader(client);
  const [version, methodCount] = await read.take(2);
  const methods = [...(await read.take(methodCount ?? 0))];
  const wanted = credentials ? USER_PASSWORD : NO_AUTHENTICATION;
  if (version !== VERSION || !methods.includes(wanted)) {
    client.end(Buffer.from([VERSION, NO_ACCEPTABLE_METHOD]));
    refused.push("no acceptable method");
    return undefined;
  }
  client.write(Buffer.from([VERSION, wanted]));
  if (credentials) {
    const [, userLength] = await read.take(2);
    const user = (await read.take(userLength ?? 0)).toString("utf8");
    const [passwordLength] = await read.take(1);
    const password = (await read.take(passwordLength ?? 0)).toString("utf8");
    if (`${user}:${password}` !== credentials) {
      client.end(Buffer.from([1, 1]));
      refused.push("wrong credentials");
      return undefined;
    }
    client.write(Buffer.from([1, 0]));
  }
  const [, command, , addressType] = await read.take(4);
  let host: string;
  if (addressType === 1) host = [...(await read.take(4))].join(".");
  else if (addressType === 3) {
    const [length] = await read.take(1);
    host = (await read.take(length ?? 0)).toString("utf8");
  } else {
    const bytes = await read.take(16);
    host = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16)).join(":");
  }
  const port = (await read.take(2)).readUInt16BE(0);
  if (command !== CONNECT) {
    client.end(reply(COMMAND_NOT_SUPPORTED));
    return undefined;
  }
  return { target: `${host}:${port}`, host, port, early: read.rest() };
}

/** The server's answer to a request: `code`, and an unspecified bound address. */
const reply = (code: number) => Buffer.from([VERSION, code, 0, 1, 0, 0, 0, 0, 0, 0]);

/** Reads exactly so many bytes at a time from `socket`, until `rest` hands the stream over. */
function reader(socket: Socket) {
  let buffered = Buffer.alloc(0);
  let ended = false;
  let more: (() => void) | undefined;
  const onData = (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    more?.();
  };
  const onEnd = () => {
    ended = true;
    more?.();
  };
  socket.on("data", onData);
  socket.on("close", onEnd);
  return {
    async take(count: number): Promise<Buffer> {
      while (buffered.length < count) {
        if (ended) throw new Error("the client went away mid-handshake");
        await new Promise<void>((resolve) => {
          more = resolve;
        });
      }
      const taken = buffered.subarray(0, count);
      buffered = buffered.subarray(count);
      return taken;
    },
    rest(): Buffer {
      socket.removeListener("data", onData);
      socket.removeListener("close", onEnd);
      socket.pause(); // until piped: nothing the client sends next is lost
      return buffered;
    },
  };
}
