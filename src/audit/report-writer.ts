import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { describeApiError, retryWhenAsked, statusCode } from "../kube/api-errors.js";
import { MANAGED_BY, type PolicyReport, REPORT_NAME, sameResults } from "./policy-report.js";

const API = { group: "wgpolicyk8s.io", version: "v1alpha2", plural: "policyreports" } as const;

export interface WriteSummary {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
}

export type WriteResult = { ok: true; summary: WriteSummary } | { ok: false; reason: string };

/**
 * Makes the cluster's PolicyReports match the audit: creates missing ones, updates changed
 * ones in place (with their resourceVersion), and deletes ours in namespaces with nothing
 * left to report, so deleted objects leave the reports.
 */
export class PolicyReportWriter {
  private readonly api: CustomObjectsApi;

  constructor(
    kubeConfig: KubeConfig,
    private readonly onApiCall: (verb: string, resource: string) => void = () => {},
    private readonly onWrite: (operation: "create" | "update" | "delete") => void = () => {},
  ) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  async reconcile(wanted: Map<string, PolicyReport>): Promise<WriteResult> {
    const summary: WriteSummary = { created: 0, updated: 0, deleted: 0, unchanged: 0 };
    try {
      this.onApiCall("list", API.plural);
      const existing = (await retryWhenAsked(() =>
        this.api.listClusterCustomObject({
          ...API,
          labelSelector: Object.entries(MANAGED_BY)
            .map(([k, v]) => `${k}=${v}`)
            .join(","),
        }),
      )) as { items: PolicyReport[] };
      const byNamespace = new Map(
        existing.items
          .filter((r) => r.metadata.name === REPORT_NAME)
          .map((r) => [r.metadata.namespace, r]),
      );
      for (const [namespace, report] of wanted) {
        const current = byNamespace.get(namespace);
        if (!current) {
          this.onApiCall("create", API.plural);
          await this.api.createNamespacedCustomObject({ ...API, namespace, body: report });
          this.onWrite("create");
          summary.created++;
        } else if (!sameResults(current, report) || !sameSummary(current, report)) {
          this.onApiCall("update", API.plural);
          const body = {
            ...report,
            metadata: { ...report.metadata, resourceVersion: current.metadata.resourceVersion },
          };
          await this.api.replaceNamespacedCustomObject({
            ...API,
            namespace,
            name: REPORT_NAME,
            body,
          });
          this.onWrite("update");
          summary.updated++;
        } else {
          summary.unchanged++;
        }
      }
      for (const namespace of byNamespace.keys()) {
        if (wanted.has(namespace)) continue;
        this.onApiCall("delete", API.plural);
        await this.api
          .deleteNamespacedCustomObject({ ...API, namespace, name: REPORT_NAME })
          .catch((error: unknown) => {
            if (statusCode(error) !== 404) throw error;
          });
        this.onWrite("delete");
        summary.deleted++;
      }
    } catch (error) {
      // A conflict means someone wrote between our read and write: the next run catches up.
      return { ok: false, reason: `writing PolicyReports failed: ${describeApiError(error)}` };
    }
    return { ok: true, summary };
  }
}

function sameSummary(a: PolicyReport, b: PolicyReport): boolean {
  return JSON.stringify(a.summary) === JSON.stringify(b.summary);
}
