import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { until } from "../../test/support/until.js";
import { createLogger } from "../log.js";
import {
  LeaderElection,
  type LeaseRead,
  type LeaseRecord,
  type LeaseStore,
  type LeaseWrite,
} from "./leader-election.js";

/** One Lease in memory, with the API server's optimistic concurrency (resourceVersion). */
class MemoryLease implements LeaseStore {
  readonly describe = "test/lease";
  record: LeaseRecord | undefined;
  version = 0;
  writes = 0;
  /** While set, every call fails with this reason (an unreachable API server). */
  failing: string | undefined;
  /** While set, every call hangs until the store is unfrozen (a stopped API server). */
  private frozen: Promise<void> | undefined;
  private thaw: (() => void) | undefined;

  freeze(): void {
    this.frozen = new Promise((resolve) => {
      this.thaw = resolve;
    });
  }

  unfreeze(): void {
    this.thaw?.();
    this.frozen = undefined;
  }

  async get(): Promise<LeaseRead> {
    await this.frozen;
    if (this.failing) return { state: "error", reason: this.failing };
    if (!this.record) return { state: "absent" };
    return {
      state: "found",
      lease: { record: this.record, resourceVersion: String(this.version) },
    };
  }

  async create(record: LeaseRecord): Promise<LeaseWrite> {
    await this.frozen;
    if (this.failing) return { ok: false, conflict: false, reason: this.failing };
    if (this.record) return { ok: false, conflict: true, reason: "exists" };
    return this.store(record);
  }

  async update(record: LeaseRecord, resourceVersion: string): Promise<LeaseWrite> {
    await this.frozen;
    if (this.failing) return { ok: false, conflict: false, reason: this.failing };
    if (resourceVersion !== String(this.version))
      return { ok: false, conflict: true, reason: "conflict" };
    return this.store(record);
  }

  private store(record: LeaseRecord): LeaseWrite {
    this.record = record;
    this.version++;
    this.writes++;
    return { ok: true, lease: { record, resourceVersion: String(this.version) } };
  }
}

const TIMINGS = { leaseDurationMs: 600, renewDeadlineMs: 400, retryPeriodMs: 50 };
const logger = createLogger("silent");

function candidate(store: LeaseStore, identity: string, events: string[] = []): LeaderElection {
  return new LeaderElection({
    store,
    identity,
    ...TIMINGS,
    logger,
    onStartedLeading: () => events.push(`${identity} started`),
    onStoppedLeading: () => events.push(`${identity} stopped`),
  });
}

/** How long until `check` held: asked every 5 ms (leases here last tens of ms), for 3 s. */
async function msUntil(check: () => boolean, what: string): Promise<number> {
  const started = Date.now();
  await until(check, what, { timeoutMs: 3000, everyMs: 5 });
  return Date.now() - started;
}

describe("leader election on a Lease", () => {
  it("makes exactly one of three replicas the leader, and keeps it so", async () => {
    const lease = new MemoryLease();
    const replicas = ["a", "b", "c"].map((id) => candidate(lease, id));
    for (const replica of replicas) replica.start();
    await msUntil(() => replicas.some((r) => r.isLeader()), "one of them leads");
    for (let i = 0; i < 100; i++) {
      assert.equal(replicas.filter((r) => r.isLeader()).length, 1);
      await sleep(10);
    }
    const leader = replicas.find((r) => r.isLeader());
    assert.equal(lease.record?.holderIdentity, leader?.identity);
    assert.equal(lease.record?.leaseDurationSeconds, 1, "600 ms, rounded up to whole seconds");
    await Promise.all(replicas.map((r) => r.stop({ release: false })));
  });

  it("lets a follower take over a crashed leader's lease once the lease duration has passed", async () => {
    const lease = new MemoryLease();
    const a = candidate(lease, "a");
    a.start();
    await msUntil(() => a.isLeader(), "a leads");
    const b = candidate(lease, "b");
    b.start();
    await sleep(200);
    assert.equal(b.isLeader(), false, "b waits while a renews");
    await a.stop({ release: false }); // a crash: the lease is left behind, unreleased
    const crashed = Date.now();
    await msUntil(() => b.isLeader(), "b leads");
    const takeover = Date.now() - crashed;
    // The record's 1 s duration (600 ms rounded up), counted from b's last sight of a change.
    assert.ok(takeover >= 900, `took over after ${takeover} ms, not before the lease ran out`);
    assert.ok(takeover < 1000 + 6 * TIMINGS.retryPeriodMs, `took over after ${takeover} ms`);
    assert.equal(lease.record?.holderIdentity, "b");
    assert.equal(lease.record?.leaseTransitions, 1);
    await b.stop();
  });

  it("hands the lease over at once when the leader stops gracefully", async () => {
    const lease = new MemoryLease();
    const a = candidate(lease, "a");
    a.start();
    await msUntil(() => a.isLeader(), "a leads");
    const b = candidate(lease, "b");
    b.start();
    await sleep(100);
    await a.stop();
    assert.equal(lease.record?.holderIdentity, "", "released");
    const takeover = await msUntil(() => b.isLeader(), "b leads");
    assert.ok(takeover < 6 * TIMINGS.retryPeriodMs, `took over after ${takeover} ms`);
    await b.stop();
  });

  it("stops claiming the lead at the renew deadline while the API server hangs", async () => {
    const lease = new MemoryLease();
    const events: string[] = [];
    const a = candidate(lease, "a", events);
    a.start();
    await msUntil(() => a.isLeader(), "a leads");
    lease.freeze();
    const frozen = Date.now();
    const lost = await msUntil(() => !a.isLeader(), "a no longer leads");
    assert.ok(lost <= TIMINGS.renewDeadlineMs + 50, `led for ${lost} ms without renewing`);
    assert.ok(lost < TIMINGS.leaseDurationMs, "before any follower may take over");
    await msUntil(() => events.includes("a stopped"), "a is told it stopped leading");
    assert.ok(Date.now() - frozen < TIMINGS.leaseDurationMs);
    lease.unfreeze();
    await msUntil(() => a.isLeader(), "a leads");
    assert.deepEqual(events, ["a started", "a stopped", "a started"]);
    await a.stop();
  });

  it("steps down when it cannot renew, and says so once", async () => {
    const lease = new MemoryLease();
    const events: string[] = [];
    const a = candidate(lease, "a", events);
    a.start();
    await msUntil(() => a.isLeader(), "a leads");
    lease.failing = "the API server answered HTTP 500";
    await msUntil(() => events.includes("a stopped"), "a is told it stopped leading");
    assert.equal(a.isLeader(), false);
    lease.failing = undefined;
    await msUntil(() => a.isLeader(), "a leads");
    await a.stop();
  });

  it("steps down at once when another replica holds the lease", async () => {
    const lease = new MemoryLease();
    const a = candidate(lease, "a");
    a.start();
    await msUntil(() => a.isLeader(), "a leads");
    const now = new Date();
    lease.record = {
      holderIdentity: "intruder",
      leaseDurationSeconds: 15,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 1,
    };
    lease.version++;
    const lost = await msUntil(() => !a.isLeader(), "a no longer leads");
    assert.ok(lost < 6 * TIMINGS.retryPeriodMs, `noticed after ${lost} ms`);
    await a.stop();
    assert.equal(
      lease.record?.holderIdentity,
      "intruder",
      "stopping does not release a lease it lost",
    );
  });

  it("renews without churning: one write per retry period, holder and acquire time kept", async () => {
    const lease = new MemoryLease();
    const a = candidate(lease, "a");
    a.start();
    await msUntil(() => a.isLeader(), "a leads");
    const acquired = lease.record?.acquireTime;
    const before = lease.writes;
    await sleep(500);
    const renewals = lease.writes - before;
    assert.ok(renewals >= 3 && renewals <= 11, `${renewals} renewals in 500 ms`);
    assert.equal(lease.record?.acquireTime, acquired);
    assert.equal(lease.record?.leaseTransitions, 0);
    await a.stop();
  });
});
