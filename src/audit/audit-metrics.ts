import { Gauge, type Registry } from "prom-client";

/**
 * `nebula_br_webhook_audit_leader`: 1 on the one replica that runs the background audit and
 * writes PolicyReports, 0 on the others. Read from the election whenever metrics are scraped.
 */
export function registerAuditLeaderGauge(registry: Registry, isLeader: () => boolean): void {
  new Gauge({
    name: "nebula_br_webhook_audit_leader",
    help: "1 when this replica holds the audit Lease and writes PolicyReports, else 0.",
    registers: [registry],
    collect() {
      this.set(isLeader() ? 1 : 0);
    },
  });
}
