/**
 * The monitoring we ship asks only for what the webhook exports: every PromQL expression of
 * the Grafana dashboard and of the alert rules names metrics (and labels) registered in a
 * fresh Metrics instance, the audit's leader gauge and prom-client's default metrics.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { registerAuditLeaderGauge } from "../../src/audit/audit-metrics.js";
import { Metrics } from "../../src/metrics.js";
import { exampleCluster, REPO_ROOT } from "../support/fixtures.js";
import { namesIn } from "../support/promql.js";

const CHART = join(REPO_ROOT, "charts/nebula-br-webhook");
const DASHBOARD = join(REPO_ROOT, "manifests/monitoring/grafana-dashboard.json");
const RULES = join(REPO_ROOT, "manifests/monitoring/prometheus-rule.yaml");

/** Labels Prometheus adds to every series of a target (ServiceMonitor, Kubernetes SD). */
const TARGET_LABELS = ["namespace", "pod", "job", "instance", "service", "endpoint", "container"];

/** Every series name the webhook can expose, with the labels each carries. */
async function exported(): Promise<Map<string, Set<string>>> {
  const metrics = new Metrics();
  metrics.watchClusterView(exampleCluster);
  registerAuditLeaderGauge(metrics.registry, () => true);
  const series = new Map<string, Set<string>>();
  for (const { name, type } of await metrics.registry.getMetricsAsJSON()) {
    const metric = metrics.registry.getSingleMetric(name) as unknown as { labelNames?: string[] };
    const labels = new Set([...(metric.labelNames ?? []), ...TARGET_LABELS]);
    if (String(type) === "histogram") {
      series.set(`${name}_bucket`, new Set([...labels, "le"]));
      series.set(`${name}_sum`, labels);
      series.set(`${name}_count`, labels);
    } else {
      series.set(name, labels);
    }
  }
  return series;
}

interface Query {
  readonly where: string;
  readonly expr: string;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

function dashboardQueries(file: string): Query[] {
  const dashboard = JSON.parse(readFileSync(file, "utf8"));
  const queries: Query[] = [];
  const visit = (panels: Panel[]) => {
    for (const panel of panels) {
      if (panel.type === "row") {
        visit(panel.panels ?? []);
        continue;
      }
      assert.ok(panel.targets && panel.targets.length > 0, `panel "${panel.title}" has queries`);
      for (const target of panel.targets)
        queries.push({ where: `panel "${panel.title}"`, expr: target.expr });
    }
  };
  visit(dashboard.panels);
  for (const variable of dashboard.templating.list)
    if (variable.type === "query")
      queries.push({ where: `variable $${variable.name}`, expr: variable.query.query });
  return queries;
}

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function ruleGroups(): { name: string; rules: AlertRule[] }[] {
  return parse(readFileSync(RULES, "utf8")).spec.groups;
}

function ruleQueries(): Query[] {
  const extra: AlertRule[] = parse(readFileSync(join(CHART, "ci/all-on-values.yaml"), "utf8"))
    .prometheusRule.additionalRules;
  return [...ruleGroups().flatMap((group) => group.rules), ...extra].map((rule) => ({
    where: `rule ${rule.alert ?? rule.record}`,
    expr: rule.expr,
  }));
}

/** Problems with one query: metrics or labels the webhook does not export. */
function problemsOf(query: Query, series: Map<string, Set<string>>): string[] {
  const { selectors, groupingLabels } = namesIn(query.expr);
  if (selectors.length === 0) return [`${query.where}: names no metric in ${query.expr}`];
  const problems: string[] = [];
  const known = new Set<string>();
  for (const { metric, matcherLabels } of selectors) {
    const labels = series.get(metric);
    if (!labels) {
      problems.push(`${query.where}: ${metric} is not a metric the webhook exports`);
      continue;
    }
    for (const label of labels) known.add(label);
    for (const label of matcherLabels)
      if (!labels.has(label)) problems.push(`${query.where}: ${metric} has no label ${label}`);
  }
  for (const label of groupingLabels)
    if (known.size > 0 && !known.has(label))
      problems.push(`${query.where}: no metric in it has the label ${label}`);
  return problems;
}

describe("the PromQL reader the checks rely on", () => {
  it("finds metrics in selectors, functions, aggregations and binary operations", () => {
    const names = namesIn(
      'histogram_quantile(0.99, sum by (stage, le) (rate(a_bucket{namespace=~"$namespace", verdict!="x"}[$__rate_interval]))) / on (pod) group_left b_total offset 5m > 1e3 and absent(c)',
    );
    assert.deepEqual(
      names.selectors.map((s) => s.metric),
      ["a_bucket", "b_total", "c"],
    );
    assert.deepEqual(names.selectors[0]?.matcherLabels, ["namespace", "verdict"]);
    assert.deepEqual(names.groupingLabels, ["stage", "le", "pod"]);
    assert.deepEqual(
      namesIn("label_values(m, namespace)").selectors.map((s) => s.metric),
      ["m"],
    );
    assert.deepEqual(namesIn('{__name__="m_total", rule="x"}').selectors, [
      { metric: "m_total", matcherLabels: ["rule"] },
    ]);
  });

  it("catches what the checks are for: a metric or a label the webhook lacks", async () => {
    const series = await exported();
    assert.deepEqual(
      problemsOf({ where: "q", expr: "rate(nebula_br_webhook_nope_total[5m])" }, series),
      ["q: nebula_br_webhook_nope_total is not a metric the webhook exports"],
    );
    assert.deepEqual(
      problemsOf(
        { where: "q", expr: 'sum by (kind) (nebula_br_webhook_audit_results{verdict="fail"})' },
        series,
      ),
      [
        "q: nebula_br_webhook_audit_results has no label verdict",
        "q: no metric in it has the label kind",
      ],
    );
    assert.deepEqual(
      problemsOf({ where: "q", expr: "nebula_br_webhook_admission_duration_seconds" }, series),
      ["q: nebula_br_webhook_admission_duration_seconds is not a metric the webhook exports"],
      "a histogram is read through _bucket, _sum or _count",
    );
  });
});

describe("monitoring names only what the webhook exports", () => {
  it("every query of the Grafana dashboard", async () => {
    const series = await exported();
    const queries = dashboardQueries(DASHBOARD);
    assert.ok(queries.length >= 20, `${queries.length} queries`);
    assert.deepEqual(
      queries.flatMap((q) => problemsOf(q, series)),
      [],
    );
  });

  it("every alert rule, the chart's example extra rule included", async () => {
    const series = await exported();
    const queries = ruleQueries();
    assert.ok(queries.length >= 8, `${queries.length} rules`);
    assert.deepEqual(
      queries.flatMap((q) => problemsOf(q, series)),
      [],
    );
  });

  it("has the alerts the issue asks for: latency, cluster view not synced, audit failures, errors", () => {
    const rules = ruleGroups().flatMap((group) => group.rules);
    const byName = new Map(rules.map((rule) => [rule.alert, rule]));
    assert.match(
      byName.get("NebulaBrWebhookSlow")?.expr ?? "",
      /histogram_quantile\(0\.99,.*nebula_br_webhook_admission_duration_seconds_bucket/s,
    );
    const notSynced = byName.get("NebulaBrWebhookClusterViewNotSynced");
    assert.match(notSynced?.expr ?? "", /nebula_br_webhook_cluster_view_synced\) == 0$/);
    assert.equal(notSynced?.for, "5m");
    assert.match(
      byName.get("NebulaBrWebhookAuditFailing")?.expr ?? "",
      /increase\(nebula_br_webhook_audit_runs_total\{outcome!="ok"\}/,
    );
    assert.match(byName.get("NebulaBrWebhookErrors")?.expr ?? "", /bad_requests_total/);
    for (const rule of rules) {
      assert.ok(rule.for, `${rule.alert} has a for`);
      assert.match(rule.labels?.severity ?? "", /^(critical|warning|info)$/, `${rule.alert}`);
      assert.ok(rule.annotations?.summary && rule.annotations.description, `${rule.alert}`);
    }
  });

  it("ships the same dashboard and alerts in the chart and in manifests/monitoring", () => {
    assert.equal(
      readFileSync(join(CHART, "files/grafana-dashboard.json"), "utf8"),
      readFileSync(DASHBOARD, "utf8"),
    );
    assert.deepEqual(
      parse(readFileSync(join(CHART, "files/prometheus-rules.yaml"), "utf8")).groups,
      ruleGroups(),
    );
    const kustomization = parse(
      readFileSync(join(REPO_ROOT, "manifests/monitoring/kustomization.yaml"), "utf8"),
    );
    assert.deepEqual(kustomization.configMapGenerator[0].files, [
      "nebula-br-webhook.json=grafana-dashboard.json",
    ]);
  });

  it("gives every dashboard panel a unique id and a place on the grid", () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8"));
    const ids = dashboard.panels.map((panel: Panel) => panel.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(dashboard.uid, "nebula-br-webhook");
  });
});
