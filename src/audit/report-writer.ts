import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { apiClient } from "../kube/api-client.js";
import { describeApiError, retryWhenAsked, statusCode } from "../kube/api-errors.js";
import { contentHash, isReportPart, MANAGED_BY, type PolicyReport } from "./policy-report.js";

const API = { group: "wgpolicyk8s.io", version: "v1alpha2", plural: "policyreports" } as const;

export interface WriteSummary {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
}

export type WriteResult = { ok: true; summary: WriteSummary } | { ok: false; reason: string };

export interface ReportWriterOptions {
  readonly onApiCall?: (verb: string, resource: string) => void;
  readonly onWrite?: (operation: "create" | "update" | "delete") => void;
  /** Asked before every write: a replica that lost the audit Lease stops mid-run. */
  readonly mayWrite?: () => boolean;
  readonly pageSize?: number;
  /** Writes in flight at once (WRITE_CONCURRENCY). */
  readonly concurrency?: number;
}

/**
 * Writes in flight at once. The API server takes about 250 ms to store a part of ~500 KB
 * (decode, schema, managedFields, etcd), most of it not our time: one at a time, 100,000
 * guarded objects (about 1,400 parts) took over 6 minutes to write. A few at once overlap
 * that wait while holding only a few parts, and stay gentle with the API server.
 */
export const WRITE_CONCURRENCY = 4;

/**
 * Existing reports are listed this many at a time: a part may be up to about 1 MiB of JSON
 * (REPORT_LIMITS), several MiB once parsed, so the audit's page of 500 would hold a GiB.
 */
export const REPORT_PAGE_SIZE = 10;

/** What we keep of an existing report while paging: not the report itself. */
interface Existing {
  readonly resourceVersion: string | undefined;
  readonly hash: string;
}

/**
 * Makes the cluster's PolicyReports match the audit: creates missing ones, updates changed
 * ones in place (with their resourceVersion), leaves unchanged ones alone, and deletes ours
 * that are no longer wanted (a namespace with nothing left to report, or a part it no longer
 * needs), so deleted objects leave the reports.
 */
export class PolicyReportWriter {
  private readonly api: CustomObjectsApi;

  constructor(
    kubeConfig: KubeConfig,
    private readonly options: ReportWriterOptions = {},
  ) {
    this.api = apiClient(kubeConfig, CustomObjectsApi);
  }

  /**
   * `wanted` is read once, one report at a time (namespaceReports builds them lazily), and
   * read no further while WRITE_CONCURRENCY writes are in flight: only the digest of each
   * existing report, the names written and the parts being written are kept, whatever the count.
   */
  async reconcile(wanted: Iterable<PolicyReport>): Promise<WriteResult> {
    const summary: WriteSummary = { created: 0, updated: 0, deleted: 0, unchanged: 0 };
    const writes = new InFlight(this.options.concurrency ?? WRITE_CONCURRENCY);
    try {
      const existing = await this.existing();
      const seen = new Set<string>();
      for (const report of wanted) {
        const { namespace, name } = report.metadata;
        const key = `${namespace}/${name}`;
        seen.add(key);
        const current = existing.get(key);
        // Hashed only when there is one to compare with: a first run creates every part.
        if (current && current.hash === contentHash(report)) {
          summary.unchanged++;
          continue;
        }
        await writes.slot();
        if (!this.mayWrite()) return await writes.end(lostLease());
        writes.add(
          current
            ? this.update(report, current.resourceVersion).then(() => summary.updated++)
            : this.create(report).then(() => summary.created++),
        );
      }
      // The new parts are all in before the old ones go.
      await writes.drain();
      for (const key of existing.keys()) {
        if (seen.has(key)) continue;
        await writes.slot();
        if (!this.mayWrite()) return await writes.end(lostLease());
        const [namespace, name] = key.split("/") as [string, string];
        writes.add(this.delete(namespace, name).then(() => summary.deleted++));
      }
      await writes.drain();
    } catch (error) {
      // A conflict means someone wrote between our read and write: the next run catches up.
      return await writes.end({
        ok: false,
        reason: `writing PolicyReports failed: ${describeApiError(error)}`,
      });
    }
    return { ok: true, summary };
  }

  /**
   * Our reports in the cluster, by `namespace/name`, read a page at a time and reduced to a
   * digest of their content on the way.
   */
  private async existing(): Promise<Map<string, Existing>> {
    const byName = new Map<string, Existing>();
    const labelSelector = Object.entries(MANAGED_BY)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    let continueToken: string | undefined;
    do {
      this.apiCall("list");
      const page = (await retryWhenAsked(() =>
        this.api.listClusterCustomObject({
          ...API,
          labelSelector,
          limit: this.options.pageSize ?? REPORT_PAGE_SIZE,
          _continue: continueToken,
        }),
      )) as { items?: PolicyReport[]; metadata?: { continue?: string } };
      for (const report of page.items ?? []) {
        if (!isReportPart(report.metadata.name)) continue;
        byName.set(`${report.metadata.namespace}/${report.metadata.name}`, {
          resourceVersion: report.metadata.resourceVersion,
          hash: contentHash(report),
        });
      }
      continueToken = page.metadata?.continue || undefined;
    } while (continueToken);
    return byName;
  }

  private async create(report: PolicyReport): Promise<void> {
    this.apiCall("create");
    const { namespace } = report.metadata;
    await this.api.createNamespacedCustomObject({ ...API, namespace, body: report });
    this.options.onWrite?.("create");
  }

  /** In place, with the resourceVersion read: a conflict fails the run rather than overwrite. */
  private async update(report: PolicyReport, resourceVersion: string | undefined): Promise<void> {
    this.apiCall("update");
    const { namespace, name } = report.metadata;
    const body = { ...report, metadata: { ...report.metadata, resourceVersion } };
    await this.api.replaceNamespacedCustomObject({ ...API, namespace, name, body });
    this.options.onWrite?.("update");
  }

  private async delete(namespace: string, name: string): Promise<void> {
    this.apiCall("delete");
    await this.api
      .deleteNamespacedCustomObject({ ...API, namespace, name })
      .catch((error: unknown) => {
        if (statusCode(error) !== 404) throw error;
      });
    this.options.onWrite?.("delete");
  }

  private mayWrite(): boolean {
    return this.options.mayWrite?.() ?? true;
  }

  private apiCall(verb: string): void {
    this.options.onApiCall?.(verb, API.plural);
  }
}

function lostLease(): WriteResult {
  return {
    ok: false,
    reason: "stopped writing PolicyReports: this replica no longer holds the audit Lease",
  };
}

/**
 * At most `limit` writes at once. The first failure is thrown by the next `slot` or `drain`;
 * `end` waits for every write still in flight, so a run never returns (and the next never
 * starts) while one of its writes is outstanding.
 */
class InFlight {
  private readonly pending = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(private readonly limit: number) {}

  add(write: Promise<unknown>): void {
    const tracked: Promise<void> = write.then(
      () => {},
      (error: unknown) => {
        this.failure ??= { error };
      },
    );
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  /** Resolves when another write may start; throws the first failure so far. */
  async slot(): Promise<void> {
    while (!this.failure && this.pending.size >= Math.max(1, this.limit))
      await Promise.race(this.pending);
    this.throwFailure();
  }

  /** Resolves when every write has ended; throws the first failure. */
  async drain(): Promise<void> {
    await Promise.all(this.pending);
    this.throwFailure();
  }

  /** Waits for the writes in flight, whatever their outcome, then gives `result`. */
  async end<T>(result: T): Promise<T> {
    await Promise.all(this.pending);
    return result;
  }

  private throwFailure(): void {
    if (this.failure) throw this.failure.error;
  }
}
