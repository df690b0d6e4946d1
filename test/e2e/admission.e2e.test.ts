import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { example, withFields } from "../support/fixtures.js";
import { assertCompletedBackupPod } from "../support/measure.js";
import {
  type ControlPlane,
  eventually,
  kubectl,
  kubectlOk,
  startClusterWithFixtures,
  startWebhook,
  stopControlPlane,
  type Webhook,
  webhookConfigurations,
} from "./harness.js";

let plane: ControlPlane;
let webhook: Webhook | undefined;

const yaml = (object: unknown) => JSON.stringify(object);
const apply = (object: unknown, ...flags: string[]) =>
  kubectl(plane, ["apply", ...flags, "-f", "-"], yaml(object));
const get = (args: string[]) => JSON.parse(kubectlOk(plane, ["get", ...args, "-o", "json"]));
const exists = (args: string[]) => kubectl(plane, ["get", ...args]).status === 0;

before(async () => {
  // The documented restore (spec.br) is the operator 1.4-1.7 shape: a 1.8 API server prunes it.
  // The 1.8 objects (spec.config, NebulaBackup, operator-made Jobs) are in operator.e2e.test.ts.
  plane = await startClusterWithFixtures({ generation: "v1.4-1.7" });
  webhook = await startWebhook(plane);
  kubectlOk(plane, ["apply", "-f", "-"], webhookConfigurations(webhook.port, webhook.ca));
});

after(async () => {
  await webhook?.stop();
  stopControlPlane(plane);
});

describe("kubectl apply through the webhook on a real API server", () => {
  it("accepts the documented restore with a valid Secret and stores concurrency: 5", () => {
    const applied = apply(example("restore-accepted.yaml"));
    assert.equal(applied.status, 0, applied.stderr);
    assert.equal(get(["-n", "nebula", "nebularestore", "restore1"]).spec.br.concurrency, 5);
  });

  // The webhook reads Secrets with resourceVersion=0 (the watch cache) and again from etcd
  // before a violation stands. A single API server's cache is rarely behind, so this proves the
  // reads work against the real one; src/admission/admit.test.ts proves the second read.
  it("admits a restore applied together with the new Secret it names, and denies one naming no Secret", () => {
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "s3-made-with-its-restore", namespace: "nebula" },
      type: "Opaque",
      stringData: { "access-key": "placeholder", "secret-key": "placeholder" },
    };
    const restore = withFields(example("restore-accepted.yaml"), {
      "metadata.name": "restore-with-new-secret",
      "spec.br.s3.secretName": "s3-made-with-its-restore",
    });
    const applied = apply({ apiVersion: "v1", kind: "List", items: [secret, restore] });
    assert.equal(applied.status, 0, applied.stderr);
    assert.ok(exists(["-n", "nebula", "nebularestore", "restore-with-new-secret"]));
    const missing = apply(
      withFields(restore, {
        "metadata.name": "restore-without-secret",
        "spec.br.s3.secretName": "no-such-secret",
      }),
    );
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /no-such-secret|Secret/);
  });

  it("the 1.4-1.7 restore CRD: answers to rt and nr, and requires br.backupName and br.clusterName", () => {
    for (const shortName of ["rt", "nr"]) {
      const listed = kubectl(plane, ["-n", "nebula", "get", shortName, "restore1"]);
      assert.equal(listed.status, 0, listed.stderr);
    }
    const incomplete = withFields(example("restore-accepted.yaml"), {
      "metadata.name": "incomplete",
      "spec.br.backupName": undefined,
      "spec.br.clusterName": undefined,
    });
    const applied = apply(incomplete, "--dry-run=server");
    assert.notEqual(applied.status, 0);
    assert.match(applied.stderr, /spec\.br\.backupName: Required value/);
    assert.match(applied.stderr, /spec\.br\.clusterName: Required value/);
  });

  const denials: [string, unknown, RegExp][] = [
    [
      "a restore without secretName",
      withFields(example("restore-accepted.yaml"), {
        "metadata.name": "no-secret",
        "spec.br.s3.secretName": undefined,
      }),
      /\[restore-secret-name\] spec\.br\.s3\.secretName: is required/,
    ],
    [
      "a restore with an invalid region",
      withFields(example("restore-accepted.yaml"), {
        "metadata.name": "bad-region",
        "spec.br.s3.region": "US West",
      }),
      /\[restore-region\] spec\.br\.s3\.region: is not a region name/,
    ],
    [
      "a restore pointing at a missing Secret",
      withFields(example("restore-accepted.yaml"), {
        "metadata.name": "gone-secret",
        "spec.br.s3.secretName": "aws-s3",
      }),
      /Secret "aws-s3" not found in namespace "nebula"; create it with keys access-key and secret-key/,
    ],
    [
      "a br-ent Job for a cluster without enableBR: true",
      example("backup-job-denied.yaml"),
      /NebulaCluster "nebula-nobr" in namespace "nebula" does not set spec.enableBR: true/,
    ],
  ];
  for (const [what, object, message] of denials) {
    it(`denies ${what}, with our message in kubectl's output, and stores nothing`, () => {
      const applied = apply(object);
      assert.notEqual(applied.status, 0);
      assert.match(applied.stderr, /admission webhook ".*nebula-br-webhook.io" denied the request/);
      assert.match(applied.stderr, message);
      const name = (object as { metadata: { name: string } }).metadata.name;
      const kind = (object as { kind: string }).kind === "Job" ? "job" : "nebularestore";
      assert.equal(exists(["-n", "nebula", kind, name]), false);
    });
  }

  it("creates a br-ent Job for a BR-enabled cluster with the pull secret, META_ADDRESS and --meta injected, and prints the warning", () => {
    const applied = apply(example("backup-job.yaml"));
    assert.equal(applied.status, 0, applied.stderr);
    assert.match(applied.stderr, /^Warning: \[backup-job-plaintext-credentials\]/m);
    const pod = get(["-n", "nebula", "job", "nebula-full-backup"]).spec.template.spec;
    assertCompletedBackupPod(pod);
  });

  it("gives the same verdicts with --dry-run=server and stores nothing", () => {
    const accepted = apply(
      withFields(example("restore-accepted.yaml"), { "metadata.name": "dry-ok" }),
      "--dry-run=server",
      "-o",
      "json",
    );
    assert.equal(accepted.status, 0, accepted.stderr);
    assert.equal(JSON.parse(accepted.stdout).spec.br.concurrency, 5);
    assert.equal(exists(["-n", "nebula", "nebularestore", "dry-ok"]), false);
    const denied = apply(
      withFields(example("restore-accepted.yaml"), {
        "metadata.name": "dry-bad",
        "spec.br.s3.region": undefined,
      }),
      "--dry-run=server",
    );
    assert.notEqual(denied.status, 0);
    assert.match(denied.stderr, /\[restore-region\]/);
  });

  it("refuses to change a restore's spec after creation", () => {
    const changed = withFields(example("restore-accepted.yaml"), {
      "spec.br.backupName": "BACKUP_2024_01_01_00_00_00",
    });
    const applied = apply(changed);
    assert.notEqual(applied.status, 0);
    assert.match(applied.stderr, /\[restore-immutable-spec\] spec: cannot be changed once created/);
  });

  it("follows the live cluster: a new cluster is usable at once, and flipping enableBR changes the verdict", async () => {
    kubectlOk(
      plane,
      ["apply", "-f", "-"],
      yaml({
        apiVersion: "apps.nebula-graph.io/v1alpha1",
        kind: "NebulaCluster",
        metadata: { name: "fresh", namespace: "nebula" },
        spec: { enableBR: true },
      }),
    );
    const job = (name: string) =>
      withFields(example("backup-job.yaml"), {
        "metadata.name": name,
        "metadata.labels": { "app.kubernetes.io/cluster": "fresh" },
      });
    const created = await eventually(() => apply(job("fresh-1")).status === 0, 5000);
    assert.ok(created, "a Job for a just-created cluster is accepted");
    kubectlOk(plane, [
      "-n",
      "nebula",
      "patch",
      "nc",
      "fresh",
      "--type",
      "merge",
      "-p",
      '{"spec":{"enableBR":false}}',
    ]);
    let last = "";
    const denied = await eventually(() => {
      const result = apply(job(`fresh-${Date.now()}`), "--dry-run=server");
      last = result.stderr;
      return result.status !== 0 && /does not set spec.enableBR: true/.test(result.stderr);
    }, 5000);
    assert.ok(denied, last);
  });

  it("never sends unrelated objects: a plain Job, a ConfigMap and kube-system objects need no webhook", async () => {
    await webhook?.stop();
    webhook = undefined;
    const plainJob = withFields(example("backup-job.yaml"), {
      "metadata.name": "plain",
      "metadata.labels": undefined,
      "spec.template.spec.containers": [
        { name: "pi", image: "perl:5", command: ["perl", "-e", "print 1"] },
      ],
    });
    assert.equal(apply(plainJob).status, 0, "a plain Job");
    assert.equal(
      apply({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "c", namespace: "nebula" },
        data: { a: "b" },
      }).status,
      0,
      "a ConfigMap",
    );
    const systemJob = withFields(example("backup-job.yaml"), {
      "metadata.namespace": "kube-system",
    });
    const inSystem = apply(systemJob);
    assert.equal(inSystem.status, 0, `a br-ent Job in kube-system: ${inSystem.stderr}`);
  });

  it("with the webhook down, failurePolicy: Fail denies br-ent Jobs and restores", () => {
    assert.equal(webhook, undefined, "the previous test stopped the webhook");
    const job = apply(withFields(example("backup-job.yaml"), { "metadata.name": "while-down" }));
    assert.notEqual(job.status, 0);
    assert.match(job.stderr, /failed calling webhook "backup-jobs.nebula-br-webhook.io"/);
    const restore = apply(
      withFields(example("restore-accepted.yaml"), { "metadata.name": "while-down" }),
    );
    assert.notEqual(restore.status, 0);
    assert.match(restore.stderr, /failed calling webhook "nebularestores.nebula-br-webhook.io"/);
  });
});

describe("install manifests", () => {
  it("pass server-side dry-run: kubectl apply --dry-run=server -k manifests/base", () => {
    // A dry run creates no namespace, so the namespaced objects need it to exist already.
    kubectlOk(plane, ["create", "namespace", "nebula-br-webhook"]);
    const result = kubectl(plane, ["apply", "--dry-run=server", "-k", "manifests/base"]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /deployment.apps\/nebula-br-webhook created \(server dry run\)/);
    assert.match(
      result.stdout,
      /validatingwebhookconfiguration.admissionregistration.k8s.io\/nebula-br-webhook (created|configured) \(server dry run\)/,
    );
  });

  it("the cert-manager overlay passes too (against stand-in cert-manager CRDs: no cert-manager runs here)", () => {
    kubectlOk(plane, ["apply", "-f", "test/e2e/crds/stand-ins/"]);
    kubectlOk(plane, ["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
    const result = kubectl(plane, [
      "apply",
      "--dry-run=server",
      "-k",
      "manifests/overlays/cert-manager",
    ]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(
      result.stdout,
      /certificate.cert-manager.io\/nebula-br-webhook created \(server dry run\)/,
    );
    // The webhook registers the Secret's ca.crt itself: no CA injector, no annotation.
    const rendered = parse(
      kubectlOk(plane, ["kustomize", "manifests/overlays/cert-manager"])
        .split(/^---$/m)
        .find((d) => d.includes("kind: Deployment")) ?? "",
    );
    const args: string[] = rendered.spec.template.spec.containers[0].args;
    assert.ok(args.includes("--ca-file=/etc/nebula-br-webhook-tls/ca.crt"), args.join(" "));
    assert.ok(args.includes("--register-webhooks"), args.join(" "));
  });
});
