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
}

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
   * `wanted` is read once, one report at a time (namespaceReports builds them lazily): only
   * the digest of each existing report and the names written are kept, whatever the count.
   */
  async reconcile(wanted: Iterable<PolicyReport>): Promise<WriteResult> {
    const summary: WriteSummary = { created: 0, updated: 0, deleted: 0, unchanged: 0 };
    const { onWrite = () => {} } = this.options;
    try {
      const existing = await this.existing();
      const seen = new Set<string>();
      for (const report of wanted) {
        const { namespace, name } = report.metadata;
        const key = `${namespace}/${name}`;
        seen.add(key);
        const current = existing.get(key);
        if (current?.hash === contentHash(report)) {
          summary.unchanged++;
          continue;
        }
        if (!this.mayWrite()) return lostLease();
        if (!current) {
          this.apiCall("create");
          await this.api.createNamespacedCustomObject({ ...API, namespace, body: report });
          onWrite("create");
          summary.created++;
        } else {
          this.apiCall("update");
          const body = {
            ...report,
            metadata: { ...report.metadata, resourceVersion: current.resourceVersion },
          };
          await this.api.replaceNamespacedCustomObject({ ...API, namespace, name, body });
          onWrite("update");
          summary.updated++;
        }
      }
      for (const key of existing.keys()) {
        if (seen.has(key)) continue;
        if (!this.mayWrite()) return lostLease();
        const [namespace, name] = key.split("/") as [string, string];
        this.apiCall("delete");
        await this.api
          .deleteNamespacedCustomObject({ ...API, namespace, name })
          .catch((error: unknown) => {
            if (statusCode(error) !== 404) throw error;
          });
        onWrite("delete");
        summary.deleted++;
      }
    } catch (error) {
      // A conflict means someone wrote between our read and write: the next run catches up.
      return { ok: false, reason: `writing PolicyReports failed: ${describeApiError(error)}` };
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
