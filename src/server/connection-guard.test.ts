import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { Server } from "node:http";
import type { Socket } from "node:net";
import { describe, it } from "node:test";
import { guardConnections, type ShedReason } from "./connection-guard.js";

let nextPort = 40_000;

class FakeSocket extends EventEmitter {
  readonly remoteAddress = "10.0.0.1";
  readonly remotePort = nextPort++;
  destroyed = false;
  constructor(readonly name: string) {
    super();
  }
  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit("close");
  }
}

/** A server that only emits events, and a clock the test moves. */
function setup(max: number) {
  const server = new EventEmitter();
  let clock = 0;
  const shed: ShedReason[] = [];
  const guard = guardConnections(server as unknown as Server, {
    max,
    firstRequestTimeoutMs: 60_000,
    onShed: (reason) => shed.push(reason),
    now: () => clock,
  });
  const connect = (name: string) => {
    clock += 1;
    const socket = new FakeSocket(name);
    server.emit("connection", socket as unknown as Socket);
    return socket;
  };
  /** A request on the socket; call the result to answer it. */
  const request = (socket: FakeSocket) => {
    const res = new EventEmitter();
    server.emit("request", { socket }, res);
    return () => {
      clock += 1;
      res.emit("close");
    };
  };
  return { guard, connect, request, shed };
}

describe("connection cap", () => {
  it("makes room by closing a connection that never sent a request, oldest first", () => {
    const { guard, connect, shed } = setup(3);
    const a = connect("a");
    const b = connect("b");
    connect("c");
    const d = connect("d");
    assert.equal(guard.open(), 3);
    assert.ok(a.destroyed, "the oldest silent connection made room");
    assert.ok(!b.destroyed && !d.destroyed);
    assert.deepEqual(shed, ["evicted-idle"]);
  });

  it("keeps connections that were served before (the API server's keep-alive ones) longest", () => {
    const { connect, request } = setup(2);
    const apiServer = connect("api-server");
    request(apiServer)(); // one request answered: now idle, and the oldest
    const flood = [connect("flood-1"), connect("flood-2"), connect("flood-3")];
    assert.ok(!apiServer.destroyed);
    assert.deepEqual(
      flood.map((s) => s.destroyed),
      [true, true, false],
    );
  });

  it("never closes a connection with a request in flight; refuses the new one instead", () => {
    const { connect, request, shed } = setup(2);
    const a = connect("a");
    const b = connect("b");
    request(a);
    request(b);
    const c = connect("c");
    assert.ok(c.destroyed && !a.destroyed && !b.destroyed);
    assert.deepEqual(shed, ["refused"]);
  });
});
