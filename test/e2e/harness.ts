/**
 * The end-to-end harness: a real etcd + kube-apiserver on 127.0.0.1 (built from Go modules
 * by control-plane.sh), the webhook as its own process, and kubectl as the user's hand.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { defaultConfig } from "../../src/config/config.js";
import { withOwnNamespace } from "../../src/registration/choose-registration.js";
import { renderWebhookConfigurations } from "../../src/registration/webhooks.js";
import { REPO_ROOT } from "../support/fixtures.js";
import { freePort, type ServeProcess, startServeProcess } from "../support/serve-process.js";
import * as polling from "../support/until.js";

export { freePort };

const CONTROL_PLANE = join(REPO_ROOT, "test/e2e/control-plane.sh");

export interface ControlPlane {
  readonly dir: string;
  readonly kubeconfig: string;
  readonly kubectlBin: string;
  readonly env: Record<string, string>;
}

/** Starts (building on first use) etcd and kube-apiserver; resolves once /readyz answers. */
export async function startControlPlane(): Promise<ControlPlane> {
  const dir = await mkdtemp(join(tmpdir(), "nbw-e2e-"));
  const up = spawnSync("bash", [CONTROL_PLANE, "up", dir], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 40 * 60 * 1000,
  });
  if (up.status !== 0) throw new Error(`control-plane.sh up failed (exit ${up.status})`);
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(dir, "env"), "utf8").split("\n")) {
    const match = line.match(/^([A-Z_]+)=(.*)$/);
    if (match)
      env[match[1] as string] = (match[2] as string)
        .replace(/^'(.*)'$/, "$1")
        .replace(/^"(.*)"$/, "$1");
  }
  if (!env.KUBECONFIG || !env.KUBECTL) throw new Error(`${dir}/env lacks KUBECONFIG or KUBECTL`);
  return { dir, kubeconfig: env.KUBECONFIG, kubectlBin: env.KUBECTL, env };
}

export function stopControlPlane(plane: ControlPlane | undefined): void {
  if (plane) spawnSync("bash", [CONTROL_PLANE, "down", plane.dir], { stdio: "inherit" });
}

export interface KubectlResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function kubectl(
  plane: ControlPlane,
  args: readonly string[],
  input?: string,
): KubectlResult {
  const run = spawnSync(plane.kubectlBin, ["--kubeconfig", plane.kubeconfig, ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    input,
    timeout: 60_000,
    // A namespace's PolicyReports in parts are more than spawnSync's default 1 MiB.
    maxBuffer: 64 * 2 ** 20,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** kubectl that must succeed. */
export function kubectlOk(plane: ControlPlane, args: readonly string[], input?: string): string {
  const result = kubectl(plane, args, input);
  if (result.status !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

export type Webhook = ServeProcess;

/** Runs `nebula-br-webhook serve` against the control plane; resolves when /readyz is 200. */
export function startWebhook(
  plane: ControlPlane,
  extraArgs: readonly string[] = [],
  port?: number,
): Promise<Webhook> {
  return startServeProcess(["--kubeconfig", plane.kubeconfig, ...extraArgs], {
    port,
    logDir: join(plane.dir, "logs"),
  });
}

/**
 * The webhook configurations `serve --register-webhooks` registers (src/registration/), as
 * YAML, pointed at a webhook outside the cluster: `clientConfig.url` on 127.0.0.1 and the
 * caBundle of its CA. Exempt: kube-system and nebula-br-webhook, as a shipped install's.
 */
export function webhookConfigurations(port: number, ca: string): string {
  const { validating, mutating } = renderWebhookConfigurations({
    configurationName: "nebula-br-webhook",
    endpoint: { url: `https://127.0.0.1:${port}` },
    failurePolicy: "Fail",
    timeoutSeconds: 5,
    exemptNamespaces: withOwnNamespace(defaultConfig.exemptNamespaces, "nebula-br-webhook"),
    caPem: ca,
  });
  return [mutating, validating].map((config) => stringify(config)).join("---\n");
}

/**
 * Retries `check` until it returns true (informer updates are asynchronous); every 200 ms, as
 * a check here usually runs kubectl.
 */
export function eventually(check: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  return polling.eventually(check, { timeoutMs, everyMs: 200 });
}

function apiServerPid(plane: ControlPlane): number {
  return Number(readFileSync(join(plane.dir, "kube-apiserver.pid"), "utf8").trim());
}

/** Freezes the real kube-apiserver (SIGSTOP): connections hang, as with a stuck server. */
export function pauseApiServer(plane: ControlPlane): void {
  process.kill(apiServerPid(plane), "SIGSTOP");
}

export function resumeApiServer(plane: ControlPlane): void {
  process.kill(apiServerPid(plane), "SIGCONT");
}

/** Stops kube-apiserver and starts it again on the same port and etcd; resolves when ready. */
export function restartApiServer(plane: ControlPlane): void {
  const run = spawnSync("bash", [CONTROL_PLANE, "restart-apiserver", plane.dir], {
    stdio: ["ignore", "ignore", "inherit"],
    timeout: 120_000,
  });
  if (run.status !== 0) throw new Error(`restart-apiserver failed (exit ${run.status})`);
}

/**
 * The NebulaGraph Operator CRD generations under test/e2e/crds/. One API server serves one
 * NebulaRestore CRD, so a suite picks one: "v1.8" (NebulaBackup, NebulaCronBackup, restores
 * with spec.config) or "v1.4-1.7" (restores with spec.br, the documented shape).
 */
export type CrdGeneration = "v1.8" | "v1.4-1.7";

/**
 * Installs the NebulaCluster CRD, the CRDs of one operator generation and any extra manifests,
 * waits until they are served, then applies `objects`.
 */
export function installCrds(
  plane: ControlPlane,
  generation: CrdGeneration = "v1.8",
  extra: readonly string[] = [],
  objects?: string,
): void {
  kubectlOk(plane, [
    "apply",
    "-f",
    "test/e2e/crds/common/",
    "-f",
    `test/e2e/crds/${generation}/`,
    ...extra.flatMap((path) => ["-f", path]),
  ]);
  kubectlOk(plane, ["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
  if (objects) kubectlOk(plane, ["apply", "-f", objects]);
}

export interface FixtureOptions {
  /** The operator generation whose CRDs are installed; "v1.8" unless said. */
  readonly generation?: CrdGeneration;
  /** More CRD manifests to install (files or directories). */
  readonly extraCrds?: readonly string[];
}

/** A control plane with the CRDs and the e2e fixtures (namespace nebula, its clusters and Secrets). */
export async function startClusterWithFixtures(
  options: FixtureOptions = {},
): Promise<ControlPlane> {
  const plane = await startControlPlane();
  installCrds(plane, options.generation, options.extraCrds, "test/e2e/fixtures/cluster.yaml");
  return plane;
}

/** The ServiceAccount and RBAC objects of a rendered install (a `kubectl kustomize` stream). */
export function installedRbac(rendered: string): string {
  return rendered
    .split(/^---$/m)
    .filter((document) =>
      /^kind: (ServiceAccount|ClusterRole|ClusterRoleBinding|Role|RoleBinding)$/m.test(document),
    )
    .join("---");
}

/** A kubeconfig that acts as a ServiceAccount, with a token from `kubectl create token`. */
export async function serviceAccountKubeconfig(
  plane: ControlPlane,
  namespace: string,
  name: string,
): Promise<string> {
  const token = kubectlOk(plane, ["-n", namespace, "create", "token", name]).trim();
  const admin = JSON.parse(kubectlOk(plane, ["config", "view", "--raw", "--minify", "-o", "json"]));
  const file = join(plane.dir, `${namespace}-${name}.kubeconfig`);
  await writeFile(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "e2e", cluster: admin.clusters[0].cluster }],
      users: [{ name, user: { token } }],
      contexts: [{ name, context: { cluster: "e2e", user: name } }],
      "current-context": name,
    }),
  );
  return file;
}

/** A result of the webhook's PolicyReport in a namespace, for one rule and one object. */
export interface ReportResult {
  readonly rule: string;
  readonly result: string;
  readonly resources: readonly { readonly name: string }[];
}

/** The results of the webhook's PolicyReport in `namespace`, or undefined while there is none. */
export function policyReportResults(
  plane: ControlPlane,
  namespace: string,
): readonly ReportResult[] | undefined {
  const got = kubectl(plane, [
    "-n",
    namespace,
    "get",
    "policyreport",
    "nebula-br-webhook",
    "-o",
    "json",
  ]);
  return got.status === 0 ? (JSON.parse(got.stdout).results ?? []) : undefined;
}
