import type { Logger } from "pino";

/** The fields of a `coordination.k8s.io/v1` Lease spec that leader election reads and writes. */
export interface LeaseRecord {
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTime: Date;
  readonly renewTime: Date;
  readonly leaseTransitions: number;
}

/** A Lease as stored, with the resourceVersion that makes an update conditional. */
export interface StoredLease {
  readonly record: LeaseRecord;
  readonly resourceVersion: string;
}

export type LeaseRead =
  | { readonly state: "found"; readonly lease: StoredLease }
  | { readonly state: "absent" }
  | { readonly state: "error"; readonly reason: string };

/** `conflict`: someone else wrote first (409), which is a lost race, not a failure. */
export type LeaseWrite =
  | { readonly ok: true; readonly lease: StoredLease }
  | { readonly ok: false; readonly conflict: boolean; readonly reason: string };

/** One Lease object: the edge between leader election and the API server. */
export interface LeaseStore {
  /** Where the Lease lives, for messages: `namespace/name`. */
  readonly describe: string;
  get(): Promise<LeaseRead>;
  create(record: LeaseRecord): Promise<LeaseWrite>;
  /** Replaces the record if the Lease still has this resourceVersion. */
  update(record: LeaseRecord, resourceVersion: string): Promise<LeaseWrite>;
}

export interface LeaderElectionOptions {
  readonly store: LeaseStore;
  /** Unique per process: a restarted pod must not inherit its predecessor's lease. */
  readonly identity: string;
  /** How long a lease holds without renewal; followers wait this long after its last change. */
  readonly leaseDurationMs: number;
  /** The leader gives up when it has not renewed for this long (shorter than the lease). */
  readonly renewDeadlineMs: number;
  /** How often the leader renews and followers look. */
  readonly retryPeriodMs: number;
  readonly logger: Logger;
  readonly onStartedLeading?: () => void;
  readonly onStoppedLeading?: () => void;
  readonly now?: () => number;
}

/** client-go's defaults, scaled: 15 s lease, 10 s renew deadline, 2 s retry period. */
export function timingsFor(
  leaseDurationSeconds: number,
): Pick<LeaderElectionOptions, "leaseDurationMs" | "renewDeadlineMs" | "retryPeriodMs"> {
  const leaseDurationMs = leaseDurationSeconds * 1000;
  return {
    leaseDurationMs,
    renewDeadlineMs: Math.round((leaseDurationMs * 2) / 3),
    retryPeriodMs: Math.max(100, Math.round((leaseDurationMs * 2) / 15)),
  };
}

type Attempt = { readonly leading: true } | { readonly leading: false; readonly reason?: string };

/**
 * Leader election on one Lease, as client-go does it: a follower takes the Lease only when it
 * is free or has not changed for its whole duration *as observed on this process's clock*
 * (so clock skew between replicas cannot shorten it); the leader renews every retry period
 * and counts itself leader only until `renewDeadline` after the start of its last successful
 * renewal, which ends before any follower may take over.
 */
export class LeaderElection {
  private leading = false;
  /** While leading: the instant after which we no longer claim to lead. */
  private validUntil = 0;
  private observed: { resourceVersion: string; at: number } | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private lastProblem: string | undefined;
  private lastHolderSeen: string | undefined;
  /** Numbers attempts, so that one abandoned at its deadline cannot write when it wakes. */
  private attempt = 0;
  private readonly now: () => number;

  constructor(private readonly options: LeaderElectionOptions) {
    this.now = options.now ?? Date.now;
  }

  get identity(): string {
    return this.options.identity;
  }

  /** True only while the lease is ours and recently renewed: checked before every write. */
  isLeader(): boolean {
    return this.leading && this.now() < this.validUntil;
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.run();
  }

  /**
   * Stops campaigning. With `release`, a held Lease is handed back (holder emptied) so another
   * replica takes over at its next look instead of after the lease duration.
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    if (!this.leading) return;
    this.leading = false;
    this.validUntil = 0;
    this.options.logger.info(
      { lease: this.options.store.describe, identity: this.identity },
      "audit lease given up: shutting down",
    );
    this.options.onStoppedLeading?.();
    if (options.release !== false)
      await this.withinDeadline(this.release().then(() => ({ leading: false })));
  }

  private async run(): Promise<void> {
    const { retryPeriodMs } = this.options;
    while (!this.stopped) {
      const started = this.now();
      const attempt = await this.withinDeadline(this.tryAcquireOrRenew(started, ++this.attempt));
      if (this.stopped) break;
      if (attempt.leading) {
        this.validUntil = started + this.options.renewDeadlineMs;
        this.lastProblem = undefined;
        if (!this.leading) {
          this.leading = true;
          this.options.logger.info(
            { lease: this.options.store.describe, identity: this.identity },
            "audit lease acquired: this replica writes the PolicyReports",
          );
          this.options.onStartedLeading?.();
        }
      } else {
        if (attempt.reason) this.report(attempt.reason);
        if (this.leading && (attempt.reason === undefined || this.now() >= this.validUntil))
          this.stepDown(attempt.reason ?? "another replica holds the lease");
      }
      // Followers jitter their looks so that replicas started together do not collide.
      const pause = this.leading ? retryPeriodMs : retryPeriodMs * (1 + Math.random() * 0.2);
      await this.sleep(pause);
    }
  }

  private async tryAcquireOrRenew(started: number, attempt: number): Promise<Attempt> {
    const { store, identity, leaseDurationMs } = this.options;
    const wanted = (previous: LeaseRecord | undefined): LeaseRecord => {
      const ours = previous?.holderIdentity === identity;
      return {
        holderIdentity: identity,
        leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
        acquireTime: ours && previous ? previous.acquireTime : new Date(started),
        renewTime: new Date(started),
        leaseTransitions: previous ? previous.leaseTransitions + (ours ? 0 : 1) : 0,
      };
    };
    const read = await store.get();
    if (attempt !== this.attempt) return { leading: false };
    if (read.state === "error") return { leading: false, reason: read.reason };
    if (read.state === "absent") return this.settle(await store.create(wanted(undefined)), attempt);

    const { record, resourceVersion } = read.lease;
    if (this.observed?.resourceVersion !== resourceVersion)
      this.observed = { resourceVersion, at: this.now() };
    const held = record.holderIdentity !== "" && record.holderIdentity !== identity;
    if (held) {
      const durationMs = (record.leaseDurationSeconds || leaseDurationMs / 1000) * 1000;
      if (this.now() < this.observed.at + durationMs) {
        this.noteHolder(record.holderIdentity);
        return { leading: false };
      }
    }
    return this.settle(await store.update(wanted(record), resourceVersion), attempt);
  }

  private settle(write: LeaseWrite, attempt: number): Attempt {
    if (attempt !== this.attempt) return { leading: false };
    if (!write.ok)
      return write.conflict ? { leading: false } : { leading: false, reason: write.reason };
    this.observed = { resourceVersion: write.lease.resourceVersion, at: this.now() };
    return { leading: true };
  }

  /** A hung API call must not keep us "leading": give up on an attempt at the renew deadline. */
  private async withinDeadline(attempt: Promise<Attempt>): Promise<Attempt> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<Attempt>((resolve) => {
      timer = setTimeout(() => {
        this.attempt++;
        resolve({ leading: false, reason: "the API server did not answer in time" });
      }, this.options.renewDeadlineMs);
    });
    try {
      return await Promise.race([attempt, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  private stepDown(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.validUntil = 0;
    this.options.logger.warn(
      { lease: this.options.store.describe, identity: this.identity, reason },
      "audit lease lost: this replica stops writing PolicyReports",
    );
    this.options.onStoppedLeading?.();
  }

  private async release(): Promise<void> {
    const read = await this.options.store.get();
    if (read.state !== "found" || read.lease.record.holderIdentity !== this.identity) return;
    const now = new Date(this.now());
    const released = await this.options.store.update(
      {
        ...read.lease.record,
        holderIdentity: "",
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
      },
      read.lease.resourceVersion,
    );
    if (released.ok)
      this.options.logger.info({ lease: this.options.store.describe }, "audit lease released");
  }

  private noteHolder(holder: string): void {
    if (holder === this.lastHolderSeen) return;
    this.lastHolderSeen = holder;
    this.options.logger.info(
      { lease: this.options.store.describe, holder },
      "another replica holds the audit lease: this one serves admissions and stands by",
    );
  }

  /** Logs a problem once, not on every retry. */
  private report(reason: string): void {
    if (reason === this.lastProblem) return;
    this.lastProblem = reason;
    this.options.logger.warn(
      { lease: this.options.store.describe, reason },
      "cannot take or renew the audit lease; retrying",
    );
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
