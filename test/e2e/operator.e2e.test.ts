/**
 * The webhook next to the NebulaGraph Operator 1.8, on a real API server with CRDs that behave
 * like the operator's (test/e2e/crds/v1.8): the test plays the operator. It creates
 * NebulaBackups with kubectl, then the Jobs the operator's controller builds for them
 * (pkg/controller/nebulabackup: buildBackupJob), and updates NebulaCronBackups the way users
 * pause them.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { example, withFields } from "../support/fixtures.js";
import {
  type ControlPlane,
  eventually,
  type KubectlResult,
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

const NAMESPACE = "nebula";
const json = (object: unknown) => JSON.stringify(object);
const inNebula = (...args: string[]) => ["-n", NAMESPACE, ...args];
/** `kubectl create`, as the operator's client creates: no last-applied annotation. */
const create = (object: unknown, ...flags: string[]): KubectlResult =>
  kubectl(plane, ["create", ...flags, "-f", "-"], json(object));
const get = (...args: string[]) =>
  JSON.parse(kubectlOk(plane, inNebula("get", ...args, "-o", "json")));
const exists = (...args: string[]) => kubectl(plane, inNebula("get", ...args)).status === 0;

const S3_KEYS = { access_key: "e2e-access-key-value", secret_key: "e2e-secret-key-value" };
/** A service-account key file as GCP hands it out: pretty-printed, `\n` escapes in the key. */
const GS_CREDENTIALS = `{
  "type": "service_account",
  "project_id": "nebula-e2e",
  "private_key_id": "0123456789abcdef",
  "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----\\n",
  "client_email": "br@nebula-e2e.iam.gserviceaccount.com",
  "client_id": "100000000000000000001"
}`;

const nebulaBackup = (name: string, config: Record<string, unknown>, extra = {}) => ({
  apiVersion: "apps.nebula-graph.io/v1alpha1",
  kind: "NebulaBackup",
  metadata: { name, namespace: NAMESPACE },
  spec: { image: "vesoft/br-ent", version: "v3.7.0", ...extra, config },
});

const s3Backup = nebulaBackup("nb-s3", {
  clusterName: "nebula",
  s3: {
    region: "us-west-2",
    bucket: "nebula-br-test",
    endpoint: "https://s3.us-west-2.amazonaws.com",
    secretName: "aws-s3-v18",
  },
});
const gsBackup = nebulaBackup(
  "nb-gs",
  {
    clusterName: "nebula",
    gs: { location: "us-central1", bucket: "nebula-br-gs", secretName: "gcp-secret" },
  },
  { imagePullSecrets: [{ name: "nebula-image" }] },
);

const metaAddress = (cluster: string) =>
  `${cluster}-metad-0.${cluster}-metad-headless.${NAMESPACE}.svc.cluster.local:9559`;

/** The storage flags of the operator's getStorageFlags, keys read from the Secret. */
const s3Flags = ` --storage s3://nebula-br-test --s3.region us-west-2 --s3.endpoint https://s3.us-west-2.amazonaws.com --s3.access_key ${S3_KEYS.access_key} --s3.secret_key ${S3_KEYS.secret_key}`;
const gsFlags = ` --storage gs://nebula-br-gs --gs.credentials '${GS_CREDENTIALS}'`;

interface BackupObject {
  metadata: { name: string; uid: string };
  spec: {
    image: string;
    version: string;
    imagePullPolicy: string;
    imagePullSecrets?: { name: string }[];
    config: { concurrency: number };
  };
}

/**
 * The Job the operator's controller creates for a NebulaBackup (buildBackupJob and
 * runBackupJob, operator 1.8): its labels on the Job and the pod, a controller ownerReference,
 * container ng-backup running one `sh -ecx` script, restartPolicy Never, backoffLimit 0.
 */
function operatorJob(backup: BackupObject, cluster: string, storageFlags: string) {
  const labels = {
    "app.kubernetes.io/name": "nebula-graph",
    "app.kubernetes.io/managed-by": "nebula-operator",
    "app.kubernetes.io/component": "backup",
    "apps.nebula-graph.io/backup": backup.metadata.name,
  };
  const script = `exec /usr/local/bin/br-ent backup full --meta ${metaAddress(cluster)} --concurrency ${backup.spec.config.concurrency}${storageFlags}`;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: `backup-full-${backup.metadata.name}`,
      namespace: NAMESPACE,
      labels,
      ownerReferences: [
        {
          apiVersion: "apps.nebula-graph.io/v1alpha1",
          kind: "NebulaBackup",
          name: backup.metadata.name,
          uid: backup.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      parallelism: 1,
      completions: 1,
      backoffLimit: 0,
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: "nebula-sa",
          containers: [
            {
              name: "ng-backup",
              image: `${backup.spec.image}:${backup.spec.version}`,
              command: ["/bin/sh", "-ecx", script],
              imagePullPolicy: backup.spec.imagePullPolicy,
              resources: {},
            },
          ],
          restartPolicy: "Never",
          ...(backup.spec.imagePullSecrets
            ? { imagePullSecrets: backup.spec.imagePullSecrets }
            : {}),
        },
      },
    },
  };
}

type Job = ReturnType<typeof operatorJob>;

/** The stored Job carries what the operator sent, and nothing the webhook would add. */
function assertStoredUnchanged(sent: Job): void {
  const stored = get("job", sent.metadata.name);
  for (const [key, value] of Object.entries(sent.metadata.labels))
    assert.equal(stored.metadata.labels[key], value, `label ${key}`);
  assert.equal(stored.metadata.labels["app.kubernetes.io/cluster"], undefined);
  assert.equal(stored.metadata.annotations, undefined, "no annotation added");
  assert.deepEqual(stored.metadata.ownerReferences, sent.metadata.ownerReferences);
  assert.equal(stored.spec.backoffLimit, 0);
  const pod = stored.spec.template.spec;
  const sentPod = sent.spec.template.spec;
  assert.equal(pod.restartPolicy, "Never");
  assert.equal(pod.serviceAccountName, "nebula-sa");
  assert.deepEqual(pod.imagePullSecrets, sentPod.imagePullSecrets, "imagePullSecrets as sent");
  assert.equal(pod.initContainers, undefined);
  assert.equal(pod.containers.length, 1);
  const [container] = pod.containers;
  const [sentContainer] = sentPod.containers;
  assert.equal(container.name, "ng-backup");
  assert.equal(container.image, sentContainer?.image);
  assert.deepEqual(
    container.command,
    sentContainer?.command,
    "the script as the operator wrote it",
  );
  assert.equal(container.args, undefined);
  assert.equal(container.env, undefined, "no env (META_ADDRESS) added");
}

before(async () => {
  plane = await startClusterWithFixtures({ generation: "v1.8" });
  kubectlOk(
    plane,
    inNebula(
      "create",
      "secret",
      "generic",
      "gcp-secret",
      `--from-literal=credentials=${GS_CREDENTIALS}`,
    ),
  );
  webhook = await startWebhook(plane);
  kubectlOk(plane, ["apply", "-f", "-"], webhookConfigurations(webhook.port, webhook.ca));
});

after(async () => {
  await webhook?.stop();
  stopControlPlane(plane);
});

describe("the operator 1.8 CRDs on a real API server", () => {
  it("serve the short names nc, nb, ncb and nr", () => {
    const result = kubectl(plane, inNebula("get", "nc,nb,ncb,nr"));
    assert.equal(result.status, 0, result.stderr);
  });

  it("accepts the spec.config restore (operator 1.8+) and keeps its concurrency", () => {
    const created = create(example("restore-config-accepted.yaml"));
    assert.equal(created.status, 0, created.stderr);
    assert.equal(get("nebularestore", "restore-v18").spec.config.concurrency, 8);
  });

  it("defaults a restore's config.concurrency to 5 (the CRD, not the webhook)", () => {
    const restore = withFields(example("restore-config-accepted.yaml"), {
      "metadata.name": "restore-v18-default",
      "spec.config.concurrency": undefined,
    });
    const created = create(restore);
    assert.equal(created.status, 0, created.stderr);
    assert.equal(get("nebularestore", "restore-v18-default").spec.config.concurrency, 5);
  });

  it("defaults a NebulaBackup's config.concurrency to 5 and imagePullPolicy to Always", () => {
    const created = create(example("nebulabackup.yaml"));
    assert.equal(created.status, 0, created.stderr);
    const stored = get("nb", "nb-full");
    assert.equal(stored.spec.config.concurrency, 5);
    assert.equal(stored.spec.imagePullPolicy, "Always");
  });

  it("rejects a NebulaBackup without config.clusterName (required by the CRD)", () => {
    const backup = withFields(example("nebulabackup.yaml"), {
      "metadata.name": "nb-no-cluster",
      "spec.config.clusterName": undefined,
    });
    const created = create(backup);
    assert.notEqual(created.status, 0);
    assert.match(created.stderr, /spec\.config\.clusterName/);
    assert.equal(exists("nb", "nb-no-cluster"), false);
  });

  // A misplaced field (nebula-operator#456) never reaches the webhook through these CRDs: the
  // API server drops unknown fields while decoding the request, before admission.
  const misplaced = () =>
    withFields(example("nebulabackup.yaml"), {
      "metadata.name": "nb-misplaced",
      "spec.concurrency": 8,
    });

  it("a misplaced spec.concurrency: kubectl's strict field validation refuses it, naming the field", () => {
    const created = create(misplaced());
    assert.notEqual(created.status, 0);
    assert.match(created.stderr, /unknown field "spec\.concurrency"/);
    assert.equal(exists("nb", "nb-misplaced"), false);
  });

  it("a misplaced spec.concurrency with --validate=warn: pruned with a warning, config.concurrency defaulted to 5", () => {
    const created = create(misplaced(), "--validate=warn");
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stderr, /unknown field "spec\.concurrency"/);
    const stored = get("nb", "nb-misplaced");
    assert.equal(stored.spec.concurrency, undefined, "pruned");
    assert.equal(stored.spec.config.concurrency, 5);
  });

  it("prunes a 1.4-1.7 spec.br from a restore: only spec.config reaches the operator", () => {
    const restore = withFields(example("restore-config-accepted.yaml"), {
      "metadata.name": "restore-with-br",
      "spec.br": { clusterName: "nebula", backupName: "BACKUP_2024_05_01_03_00_00" },
    });
    const created = create(restore, "--validate=false");
    assert.equal(created.status, 0, created.stderr);
    assert.equal(get("nebularestore", "restore-with-br").spec.br, undefined);
  });
});

describe("playing the operator: the Jobs it builds for NebulaBackups", () => {
  let s3: BackupObject;
  let gs: BackupObject;

  it("admits a NebulaBackup with S3 (Secret with access_key and secret_key)", () => {
    const created = create(s3Backup);
    assert.equal(created.status, 0, created.stderr);
    s3 = get("nb", "nb-s3");
    assert.match(s3.metadata.uid, /^[0-9a-f-]{36}$/);
  });

  it("admits a NebulaBackup with GS (Secret with credentials)", () => {
    const created = create(gsBackup);
    assert.equal(created.status, 0, created.stderr);
    gs = get("nb", "nb-gs");
  });

  it("admits the operator's S3 Job and stores it unchanged, without warnings", () => {
    const job = operatorJob(s3, "nebula", s3Flags);
    const created = create(job);
    assert.equal(created.status, 0, created.stderr);
    assertStoredUnchanged(job);
    assert.equal(created.stderr, "", "no warning: the operator wrote those flags");
  });

  it("admits the operator's GS Job (--storage gs:// --gs.credentials) and stores it unchanged, without warnings", () => {
    const job = operatorJob(gs, "nebula", gsFlags);
    const created = create(job);
    assert.equal(created.status, 0, created.stderr);
    assertStoredUnchanged(job);
    assert.equal(created.stderr, "", "no warning: the operator wrote those flags");
  });

  it("denies the same operator Job aimed at a cluster without enableBR: a forged label gains nothing", () => {
    const job = operatorJob(s3, "nebula-nobr", s3Flags);
    job.metadata.name = "backup-full-nb-s3-nobr";
    const created = create(job);
    assert.notEqual(created.status, 0);
    assert.match(created.stderr, /admission webhook ".*nebula-br-webhook.io" denied the request/);
    assert.match(
      created.stderr,
      /NebulaCluster "nebula-nobr" in namespace "nebula" does not set spec.enableBR: true/,
    );
    assert.equal(exists("job", "backup-full-nb-s3-nobr"), false);
  });
});

describe("updating a NebulaCronBackup is never blocked by a lookup", () => {
  const CLUSTER = "cron-cluster";
  const cronBackup = withFields(example("nebulacronbackup.yaml"), {
    "metadata.name": "nightly-cron",
    "spec.backupTemplate.config.clusterName": CLUSTER,
    "spec.backupTemplate.config.concurrency": undefined,
  });
  const setEnableBR = (value: boolean) =>
    kubectlOk(
      plane,
      inNebula(
        "patch",
        "nc",
        CLUSTER,
        "--type",
        "merge",
        "-p",
        json({ spec: { enableBR: value } }),
      ),
    );
  const pause = (value: boolean) =>
    kubectl(
      plane,
      inNebula(
        "patch",
        "ncb",
        "nightly-cron",
        "--type",
        "merge",
        "-p",
        json({ spec: { pause: value } }),
      ),
    );
  const label = (value: string) =>
    kubectl(plane, inNebula("label", "--overwrite", "ncb", "nightly-cron", `team=${value}`));

  /** A dry-run Job for the cluster is denied once the webhook's informer saw enableBR: false. */
  const webhookSeesNoBR = () => {
    const job = withFields(example("backup-job.yaml"), {
      "metadata.name": `probe-${Date.now()}`,
      "metadata.labels": { "app.kubernetes.io/cluster": CLUSTER },
    });
    const result = kubectl(plane, ["create", "--dry-run=server", "-f", "-"], json(job));
    return result.status !== 0 && /does not set spec.enableBR: true/.test(result.stderr);
  };

  before(() => {
    kubectlOk(
      plane,
      ["apply", "-f", "-"],
      json({
        apiVersion: "apps.nebula-graph.io/v1alpha1",
        kind: "NebulaCluster",
        metadata: { name: CLUSTER, namespace: NAMESPACE },
        spec: { enableBR: true, metad: { replicas: 1 } },
      }),
    );
  });

  it("admits a NebulaCronBackup for a BR-ready cluster; the CRD defaults its config.concurrency to 5", async () => {
    let last = "";
    const created = await eventually(() => {
      const result = create(cronBackup);
      last = result.stderr;
      return result.status === 0;
    }, 5000);
    assert.ok(created, last);
    assert.equal(get("ncb", "nightly-cron").spec.backupTemplate.config.concurrency, 5);
  });

  it("admits a label and a pause while the cluster is BR-ready and the Secret is present", () => {
    const labelled = label("data");
    assert.equal(labelled.status, 0, labelled.stderr);
    const paused = pause(true);
    assert.equal(paused.status, 0, paused.stderr);
    const resumed = pause(false);
    assert.equal(resumed.status, 0, resumed.stderr);
  });

  it("admits `kubectl patch ncb … pause: true` after the cluster lost enableBR", async () => {
    setEnableBR(false);
    assert.ok(await eventually(webhookSeesNoBR, 5000), "the webhook saw enableBR: false");
    const paused = pause(true);
    assert.equal(paused.status, 0, paused.stderr);
    assert.equal(get("ncb", "nightly-cron").spec.pause, true);
  });

  it("admits `kubectl label ncb …` after the cluster lost enableBR", () => {
    const labelled = label("platform");
    assert.equal(labelled.status, 0, labelled.stderr);
    assert.equal(get("ncb", "nightly-cron").metadata.labels.team, "platform");
  });
});
