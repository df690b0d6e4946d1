import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { apiClient } from "../kube/api-client.js";
import { describeApiError, retryWhenAsked, statusCode } from "../kube/api-errors.js";
import { PAGE_SIZE } from "./inventory.js";
import { MANAGED_BY, type PolicyReport, REPORT_NAME, sameContent } from "./policy-report.js";

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

/** What we keep of an existing report while paging: not the report itself. */
interface Existing {
  readonly resourceVersion: string | undefined;
  readonly same: boolean;
}

/**
 * Makes the cluster's PolicyReports match the audit: creates missing ones, updates changed
 * ones in place (with their resourceVersion), leaves unchanged ones alone, and deletes ours in
 * namespaces with nothing left to report, so deleted objects leave the reports.
 */
export class PolicyReportWriter {
  private readonly api: CustomObjectsApi;

  constructor(
    kubeConfig: KubeConfig,
    private readonly options: ReportWriterOptions = {},
  ) {
    this.api = apiClient(kubeConfig, CustomObjectsApi);
  }

  async reconcile(wanted: Map<string, PolicyReport>): Promise<WriteResult> {
    const summary: WriteSummary = { created: 0, updated: 0, deleted: 0, unchanged: 0 };
    const { onWrite = () => {} } = this.options;
    try {
      const existing = await this.existing(wanted);
      for (const [namespace, report] of wanted) {
        const current = existing.get(namespace);
        if (current?.same) {
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
          await this.api.replaceNamespacedCustomObject({
            ...API,
            namespace,
            name: REPORT_NAME,
            body,
          });
          onWrite("update");
          summary.updated++;
        }
      }
      for (const namespace of existing.keys()) {
        if (wanted.has(namespace)) continue;
        if (!this.mayWrite()) return lostLease();
        this.apiCall("delete");
        await this.api
          .deleteNamespacedCustomObject({ ...API, namespace, name: REPORT_NAME })
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
   * Our reports in the cluster, by namespace, read a page at a time and compared with what
   * is wanted on the way, so that only a verdict per namespace is kept.
   */
  private async existing(wanted: Map<string, PolicyReport>): Promise<Map<string, Existing>> {
    const byNamespace = new Map<string, Existing>();
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
          limit: this.options.pageSize ?? PAGE_SIZE,
          _continue: continueToken,
        }),
      )) as { items?: PolicyReport[]; metadata?: { continue?: string } };
      for (const report of page.items ?? []) {
        if (report.metadata.name !== REPORT_NAME) continue;
        const want = wanted.get(report.metadata.namespace);
        byNamespace.set(report.metadata.namespace, {
          resourceVersion: report.metadata.resourceVersion,
          same: want !== undefined && sameContent(report, want),
        });
      }
      continueToken = page.metadata?.continue || undefined;
    } while (continueToken);
    return byNamespace;
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
