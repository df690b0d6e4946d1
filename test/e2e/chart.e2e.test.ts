/**
 * The Helm chart (charts/nebula-br-webhook): lint, what it renders, and a real install and
 * uninstall against the e2e API server. helm is built from Go modules once
 * (test/e2e/build-helm.sh) and talks to the API server through the harness's kubeconfig.
 * No kubelet runs here, so the pods never start: the "image not pullable yet" case.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import { FAMILIES } from "../../src/rules/registry.js";
import { example, REPO_ROOT, withFields } from "../support/fixtures.js";
import { startServeProcess } from "../support/serve-process.js";
import {
  type ControlPlane,
  eventually,
  freePort,
  kubectl,
  kubectlOk,
  serviceAccountKubeconfig,
  startClusterWithFixtures,
  stopControlPlane,
  type Webhook,
} from "./harness.js";

const CHART = "charts/nebula-br-webhook";
const ALL_ON = `${CHART}/ci/all-on-values.yaml`;
const RELEASE = "guard";
const NAMESPACE = "br-guard";
const FULLNAME = "guard-nebula-br-webhook";
const STAND_INS = [
  "test/e2e/crds/stand-ins/cert-manager.yaml",
  "test/e2e/crds/stand-ins/prometheus-operator.yaml",
];
const POLICY_REPORT_CRD = "policyreports.wgpolicyk8s.io";

interface Rendered {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: any;
}

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The cached helm binary: build-helm.sh builds it on first use and prints its path. */
function buildHelm(): string {
  const run = spawnSync("bash", [join(REPO_ROOT, "test/e2e/build-helm.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 40 * 60 * 1000,
  });
  if (run.status !== 0) throw new Error(`build-helm.sh failed (exit ${run.status})`);
  return run.stdout.trim().split("\n").at(-1) as string;
}

const HELM_BIN = buildHelm();
// helm keeps its caches and settings here, not in the home directory.
const HELM_HOME = mkdtempSync(join(tmpdir(), "nbw-helm-"));

function helm(args: readonly string[]): Run {
  const run = spawnSync(HELM_BIN, args, {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: 120_000,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: HELM_HOME,
      HELM_CACHE_HOME: join(HELM_HOME, "cache"),
      HELM_CONFIG_HOME: join(HELM_HOME, "config"),
      HELM_DATA_HOME: join(HELM_HOME, "data"),
    },
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function helmOk(args: readonly string[]): string {
  const run = helm(args);
  if (run.status !== 0) throw new Error(`helm ${args.join(" ")} failed: ${run.stderr}`);
  return run.stdout;
}

/** `helm template guard CHART -n br-guard …` as text. */
function template(...args: string[]): string {
  return helmOk(["template", RELEASE, CHART, "-n", NAMESPACE, ...args]);
}

function objectsOf(text: string): Rendered[] {
  return parseAllDocuments(text)
    .map((document) => document.toJS() as Rendered | null)
    .filter((object): object is Rendered => object !== null);
}

const render = (...args: string[]): Rendered[] => objectsOf(template(...args));

function only(objects: readonly Rendered[], kind: string, name?: string): Rendered {
  const found = objects.filter(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
  );
  assert.equal(found.length, 1, `one ${kind} ${name ?? ""}, found ${found.length}`);
  return found[0] as Rendered;
}

const kinds = (objects: readonly Rendered[]): string[] => objects.map((o) => o.kind).sort();

function configOf(objects: readonly Rendered[]): Record<string, unknown> {
  const map = only(objects, "ConfigMap", `${FULLNAME}-config`);
  return parse(map.data["config.yaml"]);
}

function argsOf(objects: readonly Rendered[]): string[] {
  return only(objects, "Deployment").spec.template.spec.containers[0].args;
}

/** Every (path, value) pair of an object, for searching all of it at once. */
function* leaves(value: unknown, path = ""): Generator<[string, unknown]> {
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) yield* leaves(item, `${path}[${i}]`);
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value))
      yield* leaves(item, path ? `${path}.${key}` : key);
  } else {
    yield [path, value];
  }
}

const CLUSTER_SCOPED = new Set([
  "ClusterRole",
  "ClusterRoleBinding",
  "MutatingWebhookConfiguration",
  "ValidatingWebhookConfiguration",
  "CustomResourceDefinition",
]);

describe("the Helm chart, rendered", () => {
  it("passes helm lint --strict with the default values and with every option on", () => {
    helmOk(["lint", "--strict", CHART]);
    helmOk(["lint", "--strict", CHART, "-f", ALL_ON]);
  });

  it("renders what manifests/base has, named after the release", () => {
    const objects = render();
    assert.deepEqual(kinds(objects), [
      "ClusterRole",
      "ClusterRoleBinding",
      "ConfigMap",
      "CustomResourceDefinition",
      "Deployment",
      "MutatingWebhookConfiguration",
      "NetworkPolicy",
      "PodDisruptionBudget",
      "Role",
      "Role",
      "Role",
      "RoleBinding",
      "RoleBinding",
      "RoleBinding",
      "Service",
      "ServiceAccount",
      "ValidatingWebhookConfiguration",
    ]);
    for (const object of objects) {
      if (object.kind === "CustomResourceDefinition") continue;
      assert.match(object.metadata.name, new RegExp(`^${FULLNAME}`), object.kind);
      assert.equal(object.metadata.labels?.["app.kubernetes.io/instance"], RELEASE, object.kind);
    }
    const deployment = only(objects, "Deployment");
    const pod = deployment.spec.template.spec;
    assert.equal(deployment.spec.replicas, 2);
    assert.equal(pod.priorityClassName, undefined, "no priority class by default");
    assert.deepEqual(
      pod.containers[0].env.map((e: { name: string }) => e.name),
      ["POD_NAMESPACE", "POD_NAME"],
    );
    assert.equal(pod.containers[0].readinessProbe.httpGet.port, "metrics");
    assert.ok(argsOf(objects).includes("--metrics-port=9090"));
    assert.equal(pod.containers[0].image, "ghcr.io/nebula-br-webhook/nebula-br-webhook:0.1.0");
    assert.equal(pod.securityContext.runAsUser, 65532);
    assert.equal(pod.containers[0].securityContext.readOnlyRootFilesystem, true);
  });

  it("puts every namespaced object in the release namespace and names no other namespace", () => {
    for (const values of [[], ["-f", ALL_ON]]) {
      const objects = render(...values);
      for (const object of objects) {
        if (CLUSTER_SCOPED.has(object.kind))
          assert.equal(object.metadata.namespace, undefined, object.kind);
        else
          assert.equal(
            object.metadata.namespace,
            NAMESPACE,
            `${object.kind} ${object.metadata.name}`,
          );
        for (const [path, value] of leaves(object)) {
          assert.notEqual(value, "default", `${object.kind} ${path}`);
          if (/(^|\.)namespace$/.test(path))
            assert.equal(value, NAMESPACE, `${object.kind} ${path}`);
          if (typeof value === "string") {
            assert.doesNotMatch(value, /\bnamespace: (default|nebula-br-webhook)\b/, path);
            assert.doesNotMatch(value, /\.(default|nebula-br-webhook)\.svc\b/, path);
            assert.doesNotMatch(value, /^--service-namespace=(?!br-guard$)/, path);
          }
        }
      }
      const args = argsOf(objects);
      assert.ok(args.includes(`--service-namespace=${NAMESPACE}`));
      assert.deepEqual((configOf(objects).exemptNamespaces as string[])[0], NAMESPACE);
    }
  });

  it("ships both webhook configurations without webhooks, and the flags that let a ready replica fill them in", () => {
    const objects = render();
    for (const kind of ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]) {
      const config = only(objects, kind);
      assert.equal(config.metadata.name, FULLNAME);
      assert.equal("webhooks" in config, false, `${kind} has no webhooks key`);
    }
    const args = argsOf(objects);
    for (const flag of [
      "--register-webhooks",
      `--webhook-configuration=${FULLNAME}`,
      `--service-name=${FULLNAME}`,
      `--service-namespace=${NAMESPACE}`,
      "--failure-policy=Fail",
      "--webhook-timeout=5",
      `--tls-secret=${FULLNAME}-tls`,
    ])
      assert.ok(args.includes(flag), flag);
    const service = only(objects, "Service");
    assert.equal(service.metadata.name, FULLNAME);
    assert.deepEqual(
      service.spec.ports.map((p: { name: string; port: number }) => [p.name, p.port]),
      [
        ["https", 443],
        ["metrics", 9090],
      ],
    );
    const changed = argsOf(render("--set", "failurePolicy=Ignore", "--set", "timeoutSeconds=12"));
    assert.ok(changed.includes("--failure-policy=Ignore"));
    assert.ok(changed.includes("--webhook-timeout=12"));
  });

  it("feeds one list of exempt namespaces to the configuration, the release namespace first", () => {
    assert.deepEqual(configOf(render()).exemptNamespaces, [NAMESPACE, "kube-system"]);
    assert.deepEqual(
      configOf(render("--set", `exemptNamespaces={kube-system,${NAMESPACE},istio-system}`))
        .exemptNamespaces,
      [NAMESPACE, "kube-system", "istio-system"],
    );
    const config = configOf(render("-f", ALL_ON));
    assert.deepEqual(config, {
      clusterDomain: "cluster.local",
      crossNamespace: [{ from: "backup-jobs", to: "nebula" }],
      defaultConcurrency: 3,
      exemptNamespaces: [NAMESPACE, "kube-system", "monitoring"],
      failOpen: ["backup-job-readable"],
      imagePullSecret: "br-ent-secret",
      operatorCredentials: true,
      rules: { "backup-job-plaintext-credentials": "warn", "restore-region": "audit" },
    });
    assert.equal("imagePullSecret" in configOf(render()), false, "unset when empty");
  });

  it("makes a PodDisruptionBudget only for 2 replicas or more", () => {
    assert.equal(only(render(), "PodDisruptionBudget").spec.minAvailable, 1);
    assert.equal(
      render("--set", "replicas=1").filter((o) => o.kind === "PodDisruptionBudget").length,
      0,
    );
    assert.deepEqual(only(render("-f", ALL_ON), "PodDisruptionBudget").spec.maxUnavailable, 1);
  });

  it("rolls the replicas when the configuration changes", () => {
    const checksum = (objects: Rendered[]) =>
      only(objects, "Deployment").spec.template.metadata.annotations["checksum/config"];
    assert.equal(checksum(render()), checksum(render()));
    assert.notEqual(checksum(render()), checksum(render("--set", "config.defaultConcurrency=2")));
  });

  it("grants the RBAC of manifests/base, and get/patch/update on its own two webhook configurations only", () => {
    const objects = render();
    const role = only(objects, "ClusterRole");
    const admission = role.rules.filter((r: { apiGroups: string[] }) =>
      r.apiGroups.includes("admissionregistration.k8s.io"),
    );
    assert.deepEqual(admission, [
      {
        apiGroups: ["admissionregistration.k8s.io"],
        resources: ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"],
        resourceNames: [FULLNAME],
        verbs: ["get", "patch", "update"],
      },
    ]);
    const base = objectsOf(readFileSync(join(REPO_ROOT, "manifests/base/rbac.yaml"), "utf8"));
    const baseRules = only(base, "ClusterRole").rules.filter(
      (r: { apiGroups: string[] }) => !r.apiGroups.includes("admissionregistration.k8s.io"),
    );
    assert.deepEqual(
      role.rules.filter(
        (r: { apiGroups: string[] }) => !r.apiGroups.includes("admissionregistration.k8s.io"),
      ),
      baseRules,
    );
    for (const binding of objects.filter((o) => o.kind.endsWith("Binding")))
      assert.deepEqual(binding.subjects, [
        { kind: "ServiceAccount", name: FULLNAME, namespace: NAMESPACE },
      ]);
    const tls = only(objects, "Role", `${FULLNAME}-tls`);
    assert.deepEqual(tls.rules[1].resourceNames, [`${FULLNAME}-tls`]);
    const lease = only(objects, "Role", `${FULLNAME}-audit-lease`);
    assert.deepEqual(lease.rules[1].resourceNames, [`${FULLNAME}-audit`]);
    // Every Role of manifests/base, with the same rules (resource names follow the release).
    for (const baseRole of base.filter((o) => o.kind === "Role")) {
      const name = baseRole.metadata.name.replace(/^nebula-br-webhook/, FULLNAME);
      assert.deepEqual(
        JSON.parse(
          JSON.stringify(only(objects, "Role", name).rules).replaceAll(
            FULLNAME,
            "nebula-br-webhook",
          ),
        ),
        baseRole.rules,
        name,
      );
    }
  });

  it("renders the PolicyReport CRD of manifests/crds only with crds.install, kept on uninstall only with crds.keep", () => {
    const shipped = objectsOf(
      readFileSync(join(REPO_ROOT, "manifests/crds/policyreports.wgpolicyk8s.io.yaml"), "utf8"),
    );
    const crd = only(render(), "CustomResourceDefinition");
    assert.equal(crd.metadata.name, POLICY_REPORT_CRD);
    assert.deepEqual(crd.spec, only(shipped, "CustomResourceDefinition").spec);
    assert.equal(crd.metadata.annotations, undefined);
    assert.deepEqual(
      only(render("--set", "crds.keep=true"), "CustomResourceDefinition").metadata.annotations,
      {
        "helm.sh/resource-policy": "keep",
      },
    );
    const without = render("--set", "crds.install=false");
    assert.equal(without.filter((o) => o.kind === "CustomResourceDefinition").length, 0);
    assert.equal(without.length, render().length - 1);
  });

  it("cert-manager mode: a CA of its own issues a certificate for the Service's names; the webhook mounts it and writes its ca.crt as caBundle", () => {
    const objects = render("--set", "certificates.mode=cert-manager");
    const certificate = only(objects, "Certificate", FULLNAME);
    assert.deepEqual(certificate.spec.dnsNames, [
      `${FULLNAME}.${NAMESPACE}.svc`,
      `${FULLNAME}.${NAMESPACE}.svc.cluster.local`,
    ]);
    assert.equal(certificate.spec.secretName, `${FULLNAME}-cert`);
    assert.deepEqual(certificate.spec.issuerRef, {
      kind: "Issuer",
      name: `${FULLNAME}-ca`,
      group: "cert-manager.io",
    });
    // self-signed Issuer → CA Certificate → CA Issuer: renewing the serving certificate keeps the CA.
    assert.deepEqual(only(objects, "Issuer", `${FULLNAME}-selfsigned`).spec, { selfSigned: {} });
    const ca = only(objects, "Certificate", `${FULLNAME}-ca`);
    assert.equal(ca.spec.isCA, true);
    assert.equal(ca.spec.issuerRef.name, `${FULLNAME}-selfsigned`);
    assert.deepEqual(only(objects, "Issuer", `${FULLNAME}-ca`).spec, {
      ca: { secretName: `${FULLNAME}-ca` },
    });
    for (const kind of ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"])
      assert.equal(only(objects, kind).metadata.annotations, undefined, "no CA injector needed");
    const args = argsOf(objects);
    for (const flag of [
      "--tls-cert=/etc/nebula-br-webhook-tls/tls.crt",
      "--tls-key=/etc/nebula-br-webhook-tls/tls.key",
      "--ca-file=/etc/nebula-br-webhook-tls/ca.crt",
      "--register-webhooks",
    ])
      assert.ok(args.includes(flag), flag);
    assert.equal(args.filter((a) => a.startsWith("--tls-secret")).length, 0);
    const volumes = only(objects, "Deployment").spec.template.spec.volumes;
    assert.deepEqual(volumes[1], { name: "tls", secret: { secretName: `${FULLNAME}-cert` } });
    assert.equal(objects.filter((o) => o.metadata.name === `${FULLNAME}-tls`).length, 0);

    const external = render(
      "--set",
      "certificates.mode=cert-manager",
      "--set",
      "certificates.certManager.issuerRef.kind=ClusterIssuer",
      "--set",
      "certificates.certManager.issuerRef.name=internal-ca",
    );
    assert.equal(external.filter((o) => o.kind === "Issuer").length, 0);
    assert.deepEqual(only(external, "Certificate", FULLNAME).spec.issuerRef, {
      kind: "ClusterIssuer",
      name: "internal-ca",
      group: "cert-manager.io",
    });
  });

  it("sets no priority class by default; with one, the ResourceQuota GKE needs when asked", () => {
    const objects = render(
      "--set",
      "priorityClassName=system-cluster-critical",
      "--set",
      "priorityClass.createResourceQuota=true",
    );
    assert.equal(
      only(objects, "Deployment").spec.template.spec.priorityClassName,
      "system-cluster-critical",
    );
    const quota = only(objects, "ResourceQuota");
    assert.deepEqual(quota.spec.scopeSelector.matchExpressions, [
      { scopeName: "PriorityClass", operator: "In", values: ["system-cluster-critical"] },
    ]);
    assert.equal(
      render("--set", "priorityClassName=system-cluster-critical").filter(
        (o) => o.kind === "ResourceQuota",
      ).length,
      0,
    );
    const notes = helmOk([
      "install",
      RELEASE,
      CHART,
      "-n",
      NAMESPACE,
      "--dry-run=client",
      "--set",
      "priorityClassName=system-cluster-critical",
    ]);
    assert.match(notes, /priorityClass\.createResourceQuota=true/);
  });

  it("spreads, places and tolerates as told, with this release's pods as the selector", () => {
    const pod = only(render("-f", ALL_ON), "Deployment").spec.template.spec;
    assert.deepEqual(pod.topologySpreadConstraints, [
      {
        maxSkew: 1,
        topologyKey: "topology.kubernetes.io/zone",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: {
          matchLabels: {
            "app.kubernetes.io/name": "nebula-br-webhook",
            "app.kubernetes.io/instance": RELEASE,
          },
        },
      },
    ]);
    assert.ok(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution);
    assert.deepEqual(pod.nodeSelector, { "kubernetes.io/os": "linux" });
    assert.deepEqual(pod.imagePullSecrets, [{ name: "registry-credentials" }]);
    assert.match(pod.containers[0].image, /@sha256:[0-9a-f]{64}$/);
    const none = only(render("--set", "podAntiAffinityPreset=none"), "Deployment");
    assert.equal(none.spec.template.spec.affinity, undefined);
  });

  it("opens the metrics port to the monitoring peer only", () => {
    const policy = only(render("-f", ALL_ON), "NetworkPolicy");
    assert.deepEqual(policy.spec.ingress, [
      { ports: [{ protocol: "TCP", port: 8443 }] },
      {
        from: [
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
            podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } },
          },
        ],
        ports: [{ protocol: "TCP", port: 9090 }],
      },
    ]);
    assert.equal(
      render("--set", "networkPolicy.enabled=false").filter((o) => o.kind === "NetworkPolicy")
        .length,
      0,
    );
  });

  it("ships the ServiceMonitor, the alerts of manifests/monitoring and the Grafana dashboard when asked", () => {
    assert.equal(
      render().filter((o) => ["ServiceMonitor", "PrometheusRule"].includes(o.kind)).length,
      0,
    );
    const objects = render("-f", ALL_ON);
    const monitor = only(objects, "ServiceMonitor");
    assert.equal(monitor.metadata.labels?.release, "kube-prometheus-stack");
    assert.deepEqual(monitor.spec.namespaceSelector, { matchNames: [NAMESPACE] });
    assert.equal(monitor.spec.endpoints[0].port, "metrics");
    const rule = only(objects, "PrometheusRule");
    const plain = parse(
      readFileSync(join(REPO_ROOT, "manifests/monitoring/prometheus-rule.yaml"), "utf8"),
    );
    assert.deepEqual(rule.spec.groups.slice(0, 1), plain.spec.groups);
    assert.equal(rule.spec.groups[1].name, "nebula-br-webhook-extra");
    const dashboard = only(objects, "ConfigMap", `${FULLNAME}-dashboard`);
    assert.equal(dashboard.metadata.labels?.grafana_dashboard, "1");
    assert.deepEqual(
      JSON.parse(dashboard.data["nebula-br-webhook.json"]),
      JSON.parse(
        readFileSync(join(REPO_ROOT, "manifests/monitoring/grafana-dashboard.json"), "utf8"),
      ),
    );
  });

  it("refuses values its schema does not allow", () => {
    for (const [set, message] of [
      ["failurePolicy=Sometimes", /failurePolicy/],
      ["config.rules.restore-regoin=warn", /restore-regoin|propertyName/],
      ["config.rules.restore-region=loud", /restore-region/],
      ["certificates.mode=vault", /certificates\/mode/],
      ["timeoutSeconds=31", /timeoutSeconds/],
      ["config.exemptNamespaces={a}", /exemptNamespaces|additional/i],
    ] as const) {
      const run = helm(["template", RELEASE, CHART, "--set", set]);
      assert.notEqual(run.status, 0, set);
      assert.match(run.stderr, message, set);
    }
  });

  it("knows every rule id of the registry in values.schema.json (config.rules, config.failOpen)", () => {
    const schema = JSON.parse(readFileSync(join(REPO_ROOT, CHART, "values.schema.json"), "utf8"));
    const ids = [
      ...new Set(FAMILIES.flatMap((family) => family.rules.map((rule) => rule.id))),
    ].sort();
    const config = schema.properties.config.properties;
    assert.deepEqual(
      [...config.rules.propertyNames.enum].sort(),
      ids,
      "add new rule ids to values.schema.json",
    );
    assert.deepEqual([...config.failOpen.items.enum].sort(), ids);
  });
});

describe("the Helm chart against the API server", () => {
  let plane: ControlPlane;

  before(async () => {
    plane = await startClusterWithFixtures({ extraCrds: STAND_INS });
    kubectlOk(plane, ["create", "namespace", NAMESPACE]);
  });

  let replica: Webhook | undefined;

  after(async () => {
    await replica?.stop();
    stopControlPlane(plane);
    rmSync(HELM_HOME, { recursive: true, force: true });
  });

  const helmOn = (args: readonly string[]): Run =>
    helm(["--kubeconfig", plane.kubeconfig, ...args]);
  const helmOnOk = (args: readonly string[]): string => {
    const run = helmOn(args);
    if (run.status !== 0) throw new Error(`helm ${args.join(" ")} failed: ${run.stderr}`);
    return run.stdout;
  };

  /** What of release `release` is left in the API server, as `kind/name` lines. */
  function leftovers(release: string): string[] {
    const selector = `app.kubernetes.io/instance=${release}`;
    const namespaced = kubectlOk(plane, [
      "get",
      "deployments,services,configmaps,serviceaccounts,roles,rolebindings,poddisruptionbudgets,networkpolicies,resourcequotas,certificates.cert-manager.io,issuers.cert-manager.io,servicemonitors,prometheusrules",
      "-A",
      "-l",
      selector,
      "-o",
      "name",
    ]);
    const clusterWide = kubectlOk(plane, [
      "get",
      "clusterroles,clusterrolebindings,mutatingwebhookconfigurations,validatingwebhookconfigurations,customresourcedefinitions",
      "-l",
      selector,
      "-o",
      "name",
    ]);
    const releaseSecrets = kubectlOk(plane, [
      "get",
      "secrets",
      "-A",
      "-l",
      `owner=helm,name=${release}`,
      "-o",
      "name",
    ]);
    return `${namespaced}${clusterWide}${releaseSecrets}`.split("\n").filter(Boolean);
  }

  const crdExists = (): boolean => kubectl(plane, ["get", "crd", POLICY_REPORT_CRD]).status === 0;

  it("helm template | kubectl apply --dry-run=server accepts every variant", () => {
    for (const values of [
      [],
      ["--set", "crds.install=false"],
      ["--set", "certificates.mode=cert-manager"],
      ["-f", ALL_ON],
    ]) {
      const applied = kubectl(plane, ["apply", "--dry-run=server", "-f", "-"], template(...values));
      assert.equal(applied.status, 0, `${values.join(" ")}: ${applied.stderr}`);
      assert.match(
        applied.stdout,
        /deployment\.apps\/guard-nebula-br-webhook created \(server dry run\)/,
      );
    }
    assert.equal(crdExists(), false, "a dry run stores nothing");
  });

  it("kubectl apply -k manifests/monitoring --dry-run=server accepts the plain monitoring manifests", () => {
    kubectlOk(plane, ["create", "namespace", "nebula-br-webhook"]);
    const applied = kubectl(plane, ["apply", "-k", "manifests/monitoring", "--dry-run=server"]);
    assert.equal(applied.status, 0, applied.stderr);
    for (const object of [
      "service/nebula-br-webhook-metrics",
      "configmap/nebula-br-webhook-dashboard",
      "servicemonitor.monitoring.coreos.com/nebula-br-webhook",
      "prometheusrule.monitoring.coreos.com/nebula-br-webhook",
    ])
      assert.match(
        applied.stdout,
        new RegExp(`${object.replace(/\./g, "\\.")} created \\(server dry run\\)`),
      );
  });

  it("helm install: the webhook configurations hold no webhook until a replica is ready, so a br-ent Job is admitted meanwhile", () => {
    helmOnOk(["install", RELEASE, CHART, "-n", NAMESPACE]);
    const status = JSON.parse(helmOnOk(["status", RELEASE, "-n", NAMESPACE, "-o", "json"]));
    assert.equal(status.info.status, "deployed");
    for (const kind of ["mutatingwebhookconfiguration", "validatingwebhookconfiguration"]) {
      const config = JSON.parse(kubectlOk(plane, ["get", kind, FULLNAME, "-o", "json"]));
      assert.equal(config.webhooks, undefined, kind);
    }
    assert.equal(crdExists(), true);
    // No kubelet: the pods never start, as when the image cannot be pulled yet.
    const deployment = JSON.parse(
      kubectlOk(plane, ["-n", NAMESPACE, "get", "deployment", FULLNAME, "-o", "json"]),
    );
    assert.equal(deployment.status.readyReplicas ?? 0, 0);
    // The webhook would deny this Job (its cluster has no enableBR); nothing asks it yet.
    const applied = kubectl(plane, ["apply", "-f", "examples/backup-job-denied.yaml"]);
    assert.equal(applied.status, 0, applied.stderr);
    kubectlOk(plane, ["delete", "-f", "examples/backup-job-denied.yaml", "--wait=false"]);
  });

  it("helm upgrade (server-side or client-side apply) keeps the webhooks a ready replica filled in", () => {
    // What serve --register-webhooks does once ready: a server-side apply of the webhooks
    // under its own field manager (here by kubectl, since no replica runs).
    const filled = {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: { name: FULLNAME },
      webhooks: [
        {
          name: "nebularestores.nebula-br-webhook.io",
          clientConfig: {
            service: { name: FULLNAME, namespace: NAMESPACE, path: "/validate", port: 443 },
          },
          rules: [
            {
              apiGroups: ["apps.nebula-graph.io"],
              apiVersions: ["v1alpha1"],
              resources: ["nebularestores"],
              operations: ["CREATE"],
            },
          ],
          failurePolicy: "Ignore",
          sideEffects: "None",
          admissionReviewVersions: ["v1"],
        },
      ],
    };
    kubectlOk(
      plane,
      ["apply", "--server-side", "--field-manager=nebula-br-webhook", "-f", "-"],
      JSON.stringify(filled),
    );
    const webhookNames = () =>
      kubectlOk(plane, [
        "get",
        "validatingwebhookconfiguration",
        FULLNAME,
        "-o",
        "jsonpath={.webhooks[*].name}",
      ]);
    helmOnOk(["upgrade", RELEASE, CHART, "-n", NAMESPACE, "--set", "replicas=3"]);
    assert.equal(webhookNames(), "nebularestores.nebula-br-webhook.io");
    helmOnOk(["upgrade", RELEASE, CHART, "-n", NAMESPACE, "--server-side=false"]);
    assert.equal(webhookNames(), "nebularestores.nebula-br-webhook.io");
  });

  it("a replica run as the release's ServiceAccount with the Deployment's own arguments registers the webhooks; enforcement begins", async () => {
    const manifest = objectsOf(helmOnOk(["get", "manifest", RELEASE, "-n", NAMESPACE]));
    const configFile = join(plane.dir, "chart-config.yaml");
    writeFileSync(configFile, only(manifest, "ConfigMap").data["config.yaml"]);
    // As the pod would run: the release's RBAC, its flags; only where it listens differs
    // (127.0.0.1, and a webhook URL since no Service can reach a process outside the cluster).
    const args = argsOf(manifest).filter(
      (arg) => arg !== "serve" && !/^--(host|port|config|metrics-port)=/.test(arg),
    );
    const port = await freePort();
    replica = await startServeProcess(
      [
        "--kubeconfig",
        await serviceAccountKubeconfig(plane, NAMESPACE, FULLNAME),
        "--config",
        configFile,
        ...args,
        "--webhook-url",
        `https://127.0.0.1:${port}`,
        "--webhook-check-interval",
        "1",
      ],
      { port, logDir: join(plane.dir, "logs") },
    );
    let denied: Run | undefined;
    const enforced = await eventually(() => {
      const job = withFields(example("backup-job-denied.yaml"), {
        "metadata.name": `after-ready-${Date.now()}`,
      });
      denied = kubectl(plane, ["apply", "-f", "-"], JSON.stringify(job));
      return denied.status !== 0;
    }, 20_000);
    assert.ok(enforced, `still admitted 20 s after start; see ${replica.logFile}`);
    assert.match(denied?.stderr ?? "", /\[backup-job-target-cluster\]/);
    const validating = JSON.parse(
      kubectlOk(plane, ["get", "validatingwebhookconfiguration", FULLNAME, "-o", "json"]),
    );
    const tls = JSON.parse(
      kubectlOk(plane, ["-n", NAMESPACE, "get", "secret", `${FULLNAME}-tls`, "-o", "json"]),
    );
    for (const webhook of validating.webhooks) {
      assert.equal(webhook.failurePolicy, "Fail");
      assert.equal(webhook.timeoutSeconds, 5);
      assert.equal(webhook.clientConfig.caBundle, tls.data["ca.crt"]);
      assert.deepEqual(webhook.namespaceSelector.matchExpressions[0].values, [
        NAMESPACE,
        "kube-system",
      ]);
    }
  });

  it("helm uninstall leaves nothing of the release: no webhook configuration, ClusterRole, CRD or release record; the replica makes none again", async () => {
    assert.notDeepEqual(leftovers(RELEASE), []);
    helmOnOk(["uninstall", RELEASE, "-n", NAMESPACE, "--wait"]);
    assert.deepEqual(leftovers(RELEASE), []);
    for (const kind of [
      "mutatingwebhookconfiguration",
      "validatingwebhookconfiguration",
      "clusterrole",
    ])
      assert.notEqual(kubectl(plane, ["get", kind, FULLNAME]).status, 0, kind);
    assert.equal(crdExists(), false, "the release installed the CRD, so it took it away");
    // The replica still runs, but never makes a configuration again: nothing is refused.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    for (const kind of ["mutatingwebhookconfiguration", "validatingwebhookconfiguration"])
      assert.notEqual(kubectl(plane, ["get", kind, FULLNAME]).status, 0, kind);
    const job = withFields(example("backup-job-denied.yaml"), {
      "metadata.name": "after-uninstall",
    });
    const applied = kubectl(plane, ["apply", "-f", "-"], JSON.stringify(job));
    assert.equal(applied.status, 0, applied.stderr);
    await replica?.stop();
    replica = undefined;
    // What the webhook made at run time, not part of the release (the README says so).
    kubectlOk(plane, [
      "-n",
      NAMESPACE,
      "delete",
      "secret",
      `${FULLNAME}-tls`,
      "--ignore-not-found",
    ]);
    kubectlOk(plane, [
      "-n",
      NAMESPACE,
      "delete",
      "lease",
      `${FULLNAME}-audit`,
      "--ignore-not-found",
    ]);
  });

  it("with crds.install=true over a PolicyReport CRD another owner installed, helm refuses (as Kyverno's chart does)", () => {
    kubectlOk(plane, ["apply", "-f", "manifests/crds/"]);
    const refused = helmOn(["install", RELEASE, CHART, "-n", NAMESPACE]);
    assert.notEqual(refused.status, 0);
    assert.match(
      refused.stderr,
      /CustomResourceDefinition "policyreports\.wgpolicyk8s\.io" .*exists and cannot be imported into the current release/,
    );
    helmOn(["uninstall", RELEASE, "-n", NAMESPACE, "--wait"]);
    assert.deepEqual(leftovers(RELEASE), []);
  });

  it("with crds.install=false the release installs beside that CRD and leaves it on uninstall", () => {
    helmOnOk(["install", RELEASE, CHART, "-n", NAMESPACE, "--set", "crds.install=false"]);
    assert.equal(crdExists(), true);
    helmOnOk(["uninstall", RELEASE, "-n", NAMESPACE, "--wait"]);
    assert.deepEqual(leftovers(RELEASE), []);
    assert.equal(crdExists(), true, "a CRD the release did not install stays");
    kubectlOk(plane, ["delete", "-f", "manifests/crds/"]);
  });

  it("every option on (cert-manager, ServiceMonitor, PrometheusRule, dashboard, quota) installs, upgrades and uninstalls cleanly", () => {
    const values = ["-f", ALL_ON, "--set", "crds.keep=false"];
    helmOnOk(["install", RELEASE, CHART, "-n", NAMESPACE, ...values]);
    const names = leftovers(RELEASE);
    for (const expected of [
      `certificate.cert-manager.io/${FULLNAME}`,
      `servicemonitor.monitoring.coreos.com/${FULLNAME}`,
      `prometheusrule.monitoring.coreos.com/${FULLNAME}`,
      `configmap/${FULLNAME}-dashboard`,
      `resourcequota/${FULLNAME}-system-cluster-critical`,
    ])
      assert.ok(names.includes(expected), `${expected} in ${names.join(", ")}`);
    helmOnOk(["upgrade", RELEASE, CHART, "-n", NAMESPACE, ...values, "--set", "replicas=2"]);
    const deployment = JSON.parse(
      kubectlOk(plane, ["-n", NAMESPACE, "get", "deployment", FULLNAME, "-o", "json"]),
    );
    assert.equal(deployment.spec.replicas, 2);
    helmOnOk(["uninstall", RELEASE, "-n", NAMESPACE, "--wait"]);
    assert.deepEqual(leftovers(RELEASE), []);
    assert.equal(crdExists(), false);
  });

  it("installs under another release name and namespace with nothing pointing at the default one", () => {
    kubectlOk(plane, ["create", "namespace", "policy"]);
    helmOnOk(["install", "nebula-br-webhook", CHART, "-n", "policy"]);
    const manifest = helmOnOk(["get", "manifest", "nebula-br-webhook", "-n", "policy"]);
    for (const object of objectsOf(manifest)) {
      if (!CLUSTER_SCOPED.has(object.kind)) assert.equal(object.metadata.namespace, "policy");
      for (const [path, value] of leaves(object))
        if (/(^|\.)namespace$/.test(path)) assert.equal(value, "policy", `${object.kind} ${path}`);
    }
    const binding = JSON.parse(
      kubectlOk(plane, ["get", "clusterrolebinding", "nebula-br-webhook", "-o", "json"]),
    );
    assert.deepEqual(binding.subjects, [
      { kind: "ServiceAccount", name: "nebula-br-webhook", namespace: "policy" },
    ]);
    helmOnOk(["uninstall", "nebula-br-webhook", "-n", "policy", "--wait"]);
    assert.deepEqual(leftovers("nebula-br-webhook"), []);
  });
});
