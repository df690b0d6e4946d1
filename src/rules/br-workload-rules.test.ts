import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fastJsonPatch from "fast-json-patch";
import { config, example, exampleObjects, judge, withFields } from "../../test/support/fixtures.js";
import { StaticClusterView } from "../cluster-view/static-view.js";
import { familyFor } from "./registry.js";

const labelled = example("backup-job.yaml"); // the documented Job, labelled, no --meta, no pull secret
const META_HOST = "nebula-metad-0.nebula-metad-headless.nebula.svc.cluster.local";
const SCRIPT_PATH = "spec.template.spec.containers.0.command";

/** The documented Job with its one script replaced. */
function jobRunning(
  script: string,
  labels: Record<string, string> | null = { "app.kubernetes.io/cluster": "nebula" },
) {
  return withFields(labelled, {
    "metadata.labels": labels ?? undefined,
    [SCRIPT_PATH]: ["/bin/sh", "-ecx", script],
    "spec.template.spec.imagePullSecrets": [{ name: "br-ent-secret" }],
  });
}

const FULL =
  'exec /usr/local/bin/br-ent backup full --meta $META_ADDRESS:9559 --storage s3://nebula-br-test --s3.access_key "$AK" --s3.secret_key "$SK" --s3.region us-west-2';

describe("which Jobs are guarded", () => {
  it("guards a Job by its br-ent image", () => {
    assert.ok(familyFor(labelled, "batch", "Job"));
  });
  it("guards a Job running nebula-br backup from another image", () => {
    const job = withFields(labelled, {
      "spec.template.spec.containers": [
        { name: "b", image: "busybox", command: ["nebula-br", "backup", "full"] },
      ],
    });
    assert.ok(familyFor(job, "batch", "Job"));
  });
  it("leaves an unrelated Job alone", () => {
    const job = withFields(labelled, {
      "spec.template.spec.containers": [
        { name: "pi", image: "perl:5", command: ["perl", "-e", "print 1"] },
      ],
    });
    assert.equal(familyFor(job, "batch", "Job"), undefined);
  });
  it("guards a br-ent restore as well as a backup", () => {
    const job = withFields(labelled, {
      "spec.template.spec.containers": [
        { name: "r", image: "busybox", command: ["sh", "-c", "br-ent restore full"] },
      ],
    });
    assert.ok(familyFor(job, "batch", "Job"));
  });
});

describe("br-ent backup Jobs", () => {
  it("accepts the documented Job and completes it: pull secret, META_ADDRESS and --meta", () => {
    const verdicts = judge(labelled);
    assert.deepEqual(verdicts.violated, ["backup-job-plaintext-credentials"]);
    assert.equal(verdicts.decision.allowed, true, "plain-text credentials only warn by default");
    assert.match(
      verdicts.decision.warnings[0] ?? "",
      /--s3.access_key and --s3.secret_key written in plain text/,
    );
    const mutated = fastJsonPatch.applyPatch(structuredClone(labelled), [
      ...verdicts.decision.patch,
    ]).newDocument as any;
    const pod = mutated.spec.template.spec;
    assert.deepEqual(pod.imagePullSecrets, [{ name: "br-ent-secret" }]);
    assert.deepEqual(pod.containers[0].env, [{ name: "META_ADDRESS", value: META_HOST }]);
    assert.equal(
      pod.containers[0].command[2],
      `exec /usr/local/bin/br-ent backup full --meta ${META_HOST}:9559 --storage s3://nebula-br-test --s3.access_key AK --s3.secret_key SK --s3.region us-west-2 --s3.endpoint https://s3.us-west-2.amazonaws.com`,
    );
  });

  it("patches minimally and idempotently", () => {
    const first = judge(labelled).decision;
    assert.deepEqual(first.patch.map((op) => `${op.op} ${op.path}`).sort(), [
      "add /spec/template/metadata",
      "add /spec/template/spec/containers/0/env",
      "add /spec/template/spec/imagePullSecrets",
      "replace /spec/template/spec/containers/0/command/2",
    ]);
    assert.deepEqual(judge(first.mutated).decision.patch, []);
  });

  it("injects the configured pull secret instead of the cluster's own", () => {
    const verdicts = judge(labelled, { config: config({ imagePullSecret: "corp-registry" }) });
    assert.deepEqual((verdicts.decision.mutated as any).spec.template.spec.imagePullSecrets, [
      { name: "corp-registry" },
    ]);
  });

  it("keeps existing pull secrets and appends the missing one", () => {
    const job = withFields(labelled, {
      "spec.template.spec.imagePullSecrets": [{ name: "other" }],
    });
    const mutated = judge(job).decision.mutated as any;
    assert.deepEqual(mutated.spec.template.spec.imagePullSecrets, [
      { name: "other" },
      { name: "br-ent-secret" },
    ]);
  });

  it("uses the cluster's meta port and the configured cluster domain", () => {
    const job = withFields(
      jobRunning("br-ent backup full --storage s3://b-1", { "app.kubernetes.io/cluster": "graph" }),
      {
        "metadata.namespace": "prod",
      },
    );
    const mutated = judge(job, { config: config({ clusterDomain: "k8s.example" }) }).decision
      .mutated as any;
    const container = mutated.spec.template.spec.containers[0];
    assert.equal(container.env[0].value, "graph-metad-0.graph-metad-headless.prod.svc.k8s.example");
    assert.equal(
      container.command[2],
      "br-ent backup full --meta graph-metad-0.graph-metad-headless.prod.svc.k8s.example:9560 --storage s3://b-1",
    );
  });

  it("resolves the cluster from --meta when there is no label, and leaves an existing --meta alone", () => {
    const job = jobRunning(
      `br-ent backup full --meta ${META_HOST}:9559 --storage s3://nebula-br-test`,
      null,
    );
    const verdicts = judge(job);
    assert.deepEqual(verdicts.violated, []);
    assert.ok(
      !verdicts.decision.patch.some((op) => op.path.includes("/command")),
      "the script keeps its own --meta",
    );
  });

  it("resolves $META_ADDRESS in --meta from the container's env", () => {
    const job = withFields(jobRunning(FULL, null), {
      "spec.template.spec.containers.0.env": [
        {
          name: "META_ADDRESS",
          value: "nebula-nobr-metad-0.nebula-nobr-metad-headless.nebula.svc.cluster.local",
        },
      ],
    });
    assert.deepEqual(judge(job).violated, ["backup-job-target-cluster"]);
  });

  it("sets META_ADDRESS even beside odd env entries (found by fuzzing: a null entry crashed the patch)", () => {
    const job = withFields(labelled, {
      "spec.template.spec.containers.0.env": [null, { name: "X", value: "1" }],
    });
    const verdicts = judge(job);
    assert.equal(verdicts.decision.allowed, true, verdicts.decision.denials.join("\n"));
    const env = (verdicts.decision.mutated as any).spec.template.spec.containers[0].env;
    assert.deepEqual(env, [
      null,
      { name: "X", value: "1" },
      { name: "META_ADDRESS", value: META_HOST },
    ]);
  });

  it("is not checked on UPDATE: a Job's pod template is immutable", () => {
    assert.deepEqual(familyFor(labelled, "batch", "Job")?.operations, ["CREATE"]);
  });
});

const denied: {
  name: string;
  job: ReturnType<typeof jobRunning>;
  rule: string;
  says: string;
  /** Other rules the same mistake breaks, when it breaks more than one. */
  alsoBreaks?: string[];
}[] = [
  {
    name: "rejects a Job for a cluster without enableBR: true",
    job: jobRunning(FULL, { "app.kubernetes.io/cluster": "nebula-nobr" }),
    rule: "backup-job-target-cluster",
    says: 'NebulaCluster "nebula-nobr" in namespace "nebula" does not set spec.enableBR: true',
  },
  {
    name: "rejects a Job for a cluster that does not exist",
    job: jobRunning(FULL, { "app.kubernetes.io/cluster": "ghost" }),
    rule: "backup-job-target-cluster",
    says: 'NebulaCluster "ghost" not found in namespace "nebula"',
  },
  {
    name: "rejects a Job that names no cluster, saying to add the label",
    job: jobRunning("br-ent backup full --storage s3://b-1", null),
    rule: "backup-job-target-cluster",
    says: "add the label app.kubernetes.io/cluster: <cluster name>",
  },
  {
    name: "rejects storage that is not s3:// or gs://, without repeating it",
    job: jobRunning("br-ent backup full --storage local:///data/backup"),
    rule: "backup-job-storage",
    says: "--storage is not an s3:// or gs:// location",
  },
  {
    name: "rejects an https:// storage URL (it may carry keys; BR cannot use it)",
    job: jobRunning("br-ent backup full --storage https://AK:SECRET@minio.example/bkt"),
    rule: "backup-job-storage",
    says: "--storage is not an s3:// or gs:// location",
  },
  {
    name: "rejects gs:// without a bucket",
    job: jobRunning("br-ent backup full --storage gs://"),
    rule: "backup-job-storage",
    says: "--storage is not an s3:// or gs:// location",
  },
  {
    name: "rejects the sample's literal META_ADDRESS host",
    job: jobRunning(
      "br-ent backup full --meta META_ADDRESS:9559 --storage s3://b-1 --s3.region us-east-1",
    ),
    rule: "backup-job-placeholders",
    says: "--meta still holds a placeholder from the sample",
    alsoBreaks: ["backup-job-target-cluster"],
  },
  {
    name: "rejects s3://BUCKET and REGION left from the sample",
    job: jobRunning("br-ent backup full --storage s3://BUCKET --s3.region REGION"),
    rule: "backup-job-placeholders",
    says: "--storage, --s3.region still hold a placeholder",
  },
  {
    name: "rejects ACCESS_KEY and SECRET_KEY left from the sample",
    job: jobRunning(
      "br-ent backup full --storage s3://b-1 --s3.access_key ACCESS_KEY --s3.secret_key SECRET_KEY",
    ),
    rule: "backup-job-placeholders",
    says: "--s3.access_key, --s3.secret_key still hold a placeholder",
  },
  {
    name: "rejects a lone - inside the script (nebula-operator#231)",
    job: jobRunning("br-ent backup full - --storage s3://b-1"),
    rule: "backup-job-stray-words",
    says: 'the br-ent command has a lone "-"',
  },
  {
    name: "rejects a flag written with a typographic dash",
    job: jobRunning("br-ent backup full \u2013\u2013storage s3://b-1 --storage s3://b-1"),
    rule: "backup-job-stray-words",
    says: "a word that starts with a typographic dash",
  },
  {
    name: "rejects a word past verb and mode",
    job: jobRunning("br-ent backup full nightly --storage s3://b-1"),
    rule: "backup-job-stray-words",
    says: "a word that is neither a flag nor its value",
  },
  {
    name: "rejects a backup without --storage",
    job: jobRunning("br-ent backup full"),
    rule: "backup-job-storage",
    says: "--storage is missing",
  },
  {
    name: "rejects backup incr without --base",
    job: jobRunning("br-ent backup incr --storage s3://b-1"),
    rule: "backup-job-incremental-base",
    says: "backup incr needs --base",
  },
  {
    name: "rejects space selection flags",
    job: jobRunning("br-ent backup full --storage s3://b-1 --spaces basketballplayer"),
    rule: "backup-job-space-selection",
    says: "--spaces: backing up single graph spaces is not supported",
  },
  {
    name: "rejects a --meta that names another cluster than the label",
    job: jobRunning(
      "br-ent backup full --storage s3://b-1 --meta other-metad-0.other-metad-headless.nebula.svc.cluster.local:9559",
    ),
    rule: "backup-job-meta-matches-label",
    says: '--meta names cluster "other"',
    alsoBreaks: ["backup-job-target-cluster"],
  },
];

describe("br-ent backup Job denials", () => {
  for (const row of denied) {
    it(row.name, () => {
      const verdicts = judge(row.job);
      assert.deepEqual(
        [...verdicts.violated].sort(),
        [row.rule, ...(row.alsoBreaks ?? [])].sort(),
        verdicts.messages.join("\n"),
      );
      assert.ok(
        verdicts.messages.some((m) => m.includes(row.says)),
        verdicts.messages.join("\n"),
      );
      assert.equal(verdicts.decision.allowed, false);
    });
  }

  it("rejects the older documented sample whose flags are separate items after sh -c, and explains the fix", () => {
    const verdicts = judge(example("backup-job-split-command.yaml"));
    assert.deepEqual(verdicts.violated, ["backup-job-split-command"]);
    assert.match(
      verdicts.messages[0] ?? "",
      /\(--meta --storage\) reach sh -c as \$0 \$1 …, so br-ent never sees them.*one quoted script item/,
    );
  });

  it("never repeats credential values in messages", () => {
    const job = withFields(example("backup-job-split-command.yaml"), {
      "spec.template.spec.containers.0.command": [
        "sh",
        "-c",
        "br-ent backup full",
        "--s3.secret_key",
        "TOPSECRET",
        "--s3.access_key=AKIAEXAMPLE",
      ],
    });
    const { denials, warnings, auditAnnotations, patch } = judge(job).decision;
    const all = JSON.stringify({ denials, warnings, auditAnnotations, patch });
    assert.ok(!all.includes("TOPSECRET") && !all.includes("AKIAEXAMPLE"), all);
  });
});

describe("flags the operator's users write that are right", () => {
  const allowed: [string, string][] = [
    [
      "gs:// storage with --gs.credentials from env",
      'br-ent backup full --storage gs://nebula-gcs/prod --gs.credentials "$GCS"',
    ],
    ["a storage path under the bucket", "br-ent backup full --storage s3://b-1/nebula/prod"],
    [
      "$REGION and $BUCKET from env",
      'br-ent backup full --storage "s3://$BUCKET" --s3.region "$REGION"',
    ],
    [
      "an unquoted $B whose literal value has no blanks",
      "B=nebula-backups; br-ent backup full --storage s3://$B",
    ],
    [
      "TLS flags without values",
      "br-ent backup full --enable-ssl --insecure-skip-verify --server-name=nebula --storage s3://b-1",
    ],
    ["--flag=value forms", "br-ent backup full --storage=s3://b-1 --s3.region=us-east-1"],
  ];
  for (const [what, script] of allowed) {
    it(`accepts ${what}`, () => {
      const verdicts = judge(jobRunning(script));
      assert.deepEqual(verdicts.violated, [], verdicts.messages.join("\n"));
    });
  }

  it("warns about a literal --gs.credentials key in a hand-written Job", () => {
    const verdicts = judge(
      jobRunning(`br-ent backup full --storage gs://b-1 --gs.credentials '{"k":"v"}'`),
    );
    assert.deepEqual(verdicts.violated, ["backup-job-plaintext-credentials"]);
    assert.equal(verdicts.decision.allowed, true);
  });
});

describe("completing hand-written Jobs", () => {
  it("adds --meta after the mode in the exec form, as two argv items", () => {
    const job = withFields(labelled, {
      "spec.template.spec.containers.0.command": ["br-ent"],
      "spec.template.spec.containers.0.args": ["backup", "full", "--storage", "s3://b-1"],
    });
    const mutated = judge(job).decision.mutated as any;
    assert.deepEqual(mutated.spec.template.spec.containers[0].args, [
      "backup",
      "full",
      "--meta",
      `${META_HOST}:9559`,
      "--storage",
      "s3://b-1",
    ]);
  });

  it("adds --meta to every call of a chained script, each right after its mode", () => {
    const job = jobRunning(
      "br-ent backup full --storage s3://a && br-ent backup full --storage s3://b",
    );
    const script = (judge(job).decision.mutated as any).spec.template.spec.containers[0].command[2];
    assert.equal(
      script,
      `br-ent backup full --meta ${META_HOST}:9559 --storage s3://a && br-ent backup full --meta ${META_HOST}:9559 --storage s3://b`,
    );
  });

  it("completes an init container that runs BR, at its own path", () => {
    const job = withFields(labelled, {
      "spec.template.spec.initContainers": [
        {
          name: "br",
          image: "vesoft/br-ent:v3.7.0",
          command: ["sh", "-c", "br-ent backup full --storage s3://b-1"],
        },
      ],
      "spec.template.spec.containers": [{ name: "done", image: "busybox", command: ["true"] }],
    });
    const mutated = judge(job).decision.mutated as any;
    assert.deepEqual(mutated.spec.template.spec.initContainers[0].env, [
      { name: "META_ADDRESS", value: META_HOST },
    ]);
    assert.equal(mutated.spec.template.spec.containers[0].env, undefined);
  });

  it("does not complete a Job a controller made (a CronJob's, or a Pod's of a Job)", () => {
    const made = withFields(labelled, {
      "metadata.ownerReferences": [
        { apiVersion: "batch/v1", kind: "CronJob", name: "c", uid: "u", controller: true },
      ],
    });
    const verdicts = judge(made);
    assert.deepEqual(verdicts.decision.patch, []);
    assert.deepEqual(verdicts.decision.warnings, []);
  });

  it("warns about a key passed through a literal env value", () => {
    const job = withFields(
      jobRunning('br-ent backup full --storage s3://b-1 --s3.secret_key "$SK"'),
      {
        "spec.template.spec.containers.0.env": [{ name: "SK", value: "wJalrXUtnFEMI" }],
      },
    );
    const verdicts = judge(job);
    assert.deepEqual(verdicts.violated, ["backup-job-plaintext-credentials"]);
    assert.doesNotMatch(JSON.stringify(verdicts.decision), /wJalrXUtnFEMI.*wJalrXUtnFEMI/s);
    assert.ok(!verdicts.decision.warnings.join().includes("wJalrXUtnFEMI"));
  });

  it("denies an unquoted key from a Secret: its value could add flags (a Secret s3key --meta other)", () => {
    const job = withFields(
      jobRunning("br-ent backup full --storage s3://b-1 --s3.secret_key $SK"),
      {
        "spec.template.spec.containers.0.env": [
          { name: "SK", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
        ],
      },
    );
    const verdicts = judge(job);
    assert.deepEqual(verdicts.violated, ["backup-job-readable"]);
    assert.match(
      verdicts.messages[0] ?? "",
      /split unquoted \$SK into more words and flags; quote it \("\$NAME"\)/,
    );
  });

  it("does not warn about a key from a Secret (valueFrom)", () => {
    const job = withFields(
      jobRunning('br-ent backup full --storage s3://b-1 --s3.secret_key "$SK"'),
      {
        "spec.template.spec.containers.0.env": [
          { name: "SK", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
        ],
      },
    );
    assert.deepEqual(judge(job).violated, []);
  });
});

describe("--meta names a cluster only when the whole host is its meta pod's", () => {
  const metaOnly = (host: string) =>
    jobRunning(`br-ent backup full --meta ${host}:9559 --storage s3://b-1`, null);

  for (const host of [
    "nebula-metad-0.nebula-metad-headless.nebula.svc.cluster.local",
    "nebula-metad-0.nebula-metad-headless.nebula.svc",
    "nebula-metad-0.nebula-metad-headless.nebula",
    "nebula-metad-2.nebula-metad-headless.nebula.svc.cluster.local.",
  ]) {
    it(`reads ${host} as cluster nebula in namespace nebula`, () => {
      assert.deepEqual(judge(metaOnly(host)).violated, []);
    });
  }

  for (const host of [
    "nebula-metad-0.nebula-metad-headless.nebula.svc.attacker.example",
    "nebula-metad-0.nebula-metad-headless.nebula.svc.cluster.local.evil",
    "nebula-metad-0.other-metad-headless.nebula.svc.cluster.local",
    "x.nebula-metad-0.nebula-metad-headless.nebula.svc.cluster.local",
  ]) {
    it(`does not read ${host} as any cluster`, () => {
      const verdicts = judge(metaOnly(host));
      assert.deepEqual(verdicts.violated, ["backup-job-target-cluster"]);
      assert.match(verdicts.messages[0] ?? "", /cannot tell which NebulaCluster/);
    });
  }

  it("reads the host under the configured cluster domain", () => {
    const job = withFields(
      metaOnly("nebula-metad-0.nebula-metad-headless.nebula.svc.k8s.example"),
      {},
    );
    assert.deepEqual(judge(job, { config: config({ clusterDomain: "k8s.example" }) }).violated, []);
    assert.deepEqual(judge(job).violated, ["backup-job-target-cluster"]);
  });
});

/** A Job as the operator's controller builds it from a NebulaBackup (operator 1.8). */
function operatorJob(cluster: string, storageFlags: string) {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: "nb-full-job",
      namespace: "nebula",
      labels: {
        "app.kubernetes.io/managed-by": "nebula-operator",
        "app.kubernetes.io/component": "backup",
        "app.kubernetes.io/name": "nebula-graph",
        "apps.nebula-graph.io/backup": "nb-full",
      },
      ownerReferences: [
        {
          apiVersion: "apps.nebula-graph.io/v1alpha1",
          kind: "NebulaBackup",
          name: "nb-full",
          uid: "5b0c3e6a-0000-4000-8000-000000000001",
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      backoffLimit: 0,
      template: {
        spec: {
          restartPolicy: "Never",
          containers: [
            {
              name: "ng-backup",
              image: "vesoft/br-ent:v3.7.0",
              command: [
                "/bin/sh",
                "-ecx",
                `exec /usr/local/bin/br-ent backup full --meta ${cluster}-metad-0.${cluster}-metad-headless.nebula.svc.cluster.local:9559 --concurrency 5 ${storageFlags}`,
              ],
            },
          ],
        },
      },
    },
  };
}

const S3_FLAGS =
  "--storage s3://nebula-br-test --s3.region us-west-2 --s3.endpoint https://s3.us-west-2.amazonaws.com --s3.access_key AKIAOPERATOR --s3.secret_key operator-secret";
const GS_FLAGS = `--storage gs://nebula-gcs --gs.credentials '{"type":"service_account","private_key":"k"}'`;

describe("Jobs the operator makes from a NebulaBackup", () => {
  for (const [storage, flags] of [
    ["S3", S3_FLAGS],
    ["GS", GS_FLAGS],
  ] as const) {
    it(`admits the operator's ${storage} Job unchanged and without warnings`, () => {
      const verdicts = judge(operatorJob("nebula", flags));
      assert.deepEqual(verdicts.violated, [], verdicts.messages.join("\n"));
      assert.equal(verdicts.decision.allowed, true);
      assert.deepEqual(verdicts.decision.patch, []);
      assert.deepEqual(verdicts.decision.warnings, []);
    });
  }

  it("still checks its target: a forged operator Job for a cluster without BR is denied", () => {
    const verdicts = judge(operatorJob("nebula-nobr", S3_FLAGS));
    assert.deepEqual(verdicts.violated, ["backup-job-target-cluster"]);
  });

  it("treats the labels without a controller NebulaBackup reference as a hand-written Job", () => {
    const job = withFields(operatorJob("nebula", S3_FLAGS), { "metadata.ownerReferences": [] });
    const verdicts = judge(job);
    assert.deepEqual(verdicts.violated, ["backup-job-plaintext-credentials"]);
    assert.ok(verdicts.decision.patch.length > 0, "a hand-written Job is completed");
  });

  it("treats a non-controller NebulaBackup reference as a hand-written Job", () => {
    const job = withFields(operatorJob("nebula", S3_FLAGS), {
      "metadata.ownerReferences.0.controller": false,
    });
    assert.deepEqual(judge(job).violated, ["backup-job-plaintext-credentials"]);
  });
});

describe("what the operator and ordinary workloads do, admitted", () => {
  it("admits a cluster named nebula-br-1 (its StatefulSet names nebula-br-1-metad-0 hosts)", () => {
    const statefulSet = {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "nebula-br-1-metad", namespace: "nebula" },
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: "metad",
                image: "vesoft/nebula-metad:v3.8.0",
                command: [
                  "/bin/sh",
                  "-ecx",
                  "exec /usr/local/nebula/bin/nebula-metad --meta_server_addrs=nebula-br-1-metad-0.nebula-br-1-metad-headless.nebula.svc.cluster.local:9559 --local_ip=$(hostname)",
                ],
              },
            ],
          },
        },
      },
    };
    assert.equal(familyFor(statefulSet, "apps", "StatefulSet"), undefined);
  });

  it("admits a sidecar tailing br-ent's log and a br-ent version init container in an operator Job", () => {
    const job = withFields(operatorJob("nebula", S3_FLAGS), {
      "spec.template.spec.initContainers": [
        { name: "v", image: "vesoft/br-ent:v3.7.0", command: ["br-ent", "version"] },
      ],
      "spec.template.spec.containers.1": {
        name: "log",
        image: "busybox",
        command: ["sh", "-c", "tail -F /var/log/br-ent.log"],
      },
    }) as any;
    job.spec.template.spec.containers = Object.values(job.spec.template.spec.containers);
    const verdicts = judge(job);
    assert.deepEqual(verdicts.violated, [], verdicts.messages.join("\n"));
  });

  it("admits an operator Job whose keys happen to contain placeholder words", () => {
    const flags = S3_FLAGS.replace("AKIAOPERATOR", "abc/REGION").replace(
      "operator-secret",
      "xY+BUCKET/zz",
    );
    assert.deepEqual(judge(operatorJob("nebula", flags)).violated, []);
  });

  it("admits an operator Job carrying its NebulaBackup's own labels (the operator copies them)", () => {
    const job = operatorJob("nebula", S3_FLAGS) as any;
    job.metadata.labels["app.kubernetes.io/cluster"] = "graph"; // the NebulaBackup's label
    job.spec.template.metadata = { labels: { ...job.metadata.labels } };
    assert.deepEqual(judge(job).violated, []);
  });

  it("admits the Pod of an operator Job aimed at another namespace when its NebulaBackup says so", () => {
    const view = new StaticClusterView([
      ...exampleObjects("cluster-state.yaml"),
      {
        apiVersion: "apps.nebula-graph.io/v1alpha1",
        kind: "NebulaBackup",
        metadata: { name: "nb-full", namespace: "nebula", uid: "u" },
        spec: { config: { clusterName: "graph", clusterNamespace: "prod" } },
      },
    ]);
    const job = operatorJob("graph", S3_FLAGS) as any;
    const command = job.spec.template.spec.containers[0].command;
    command[2] = command[2].replace(
      "graph-metad-0.graph-metad-headless.nebula.svc",
      "graph-metad-0.graph-metad-headless.prod.svc",
    );
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: "backup-full-nb-full-x1",
        namespace: "nebula",
        labels: { ...job.metadata.labels, "job-name": "backup-full-nb-full" },
        ownerReferences: [
          {
            apiVersion: "batch/v1",
            kind: "Job",
            name: "backup-full-nb-full",
            uid: "j",
            controller: true,
          },
        ],
      },
      spec: job.spec.template.spec,
    };
    assert.deepEqual(judge(pod, { cluster: view }).violated, []);
    assert.deepEqual(familyFor(pod, "", "Pod")?.nebulaBackupsNeeded?.(pod, "nebula", config()), [
      { namespace: "nebula", name: "nb-full" },
    ]);
    const without = { ...pod, metadata: { ...pod.metadata, labels: { "job-name": "x" } } };
    assert.deepEqual(judge(without, { cluster: view }).violated, ["backup-job-cross-namespace"]);
  });

  it("copies a Job's own cluster label into its pod template, so its Pods can pass", () => {
    const job = withFields(jobRunning("br-ent backup full --storage s3://b-1"), {
      "spec.template.metadata": undefined,
    });
    const mutated = judge(job).decision.mutated as any;
    assert.equal(mutated.spec.template.metadata.labels["app.kubernetes.io/cluster"], "nebula");
  });

  it("denies a Job whose own label and template label name different clusters", () => {
    const job = withFields(jobRunning("br-ent backup full --storage s3://b-1"), {
      "spec.template.metadata.labels": { "app.kubernetes.io/cluster": "nebula-nobr" },
    });
    assert.ok(judge(job).violated.includes("backup-job-meta-matches-label"));
  });

  it("allows an unreadable workload with a warning when backup-job-readable fails open", () => {
    const job = jobRunning("eval br-ent backup full --storage s3://b-1");
    const verdicts = judge(job, { config: config({ failOpen: ["backup-job-readable"] }) });
    assert.equal(verdicts.decision.allowed, true);
    assert.match(
      verdicts.decision.warnings.join("\n"),
      /\[backup-job-readable\].*allowed: the rule fails open/,
    );
  });
});

describe("an operator Job aimed at another namespace", () => {
  const UID = "5b0c3e6a-0000-4000-8000-000000000001";
  const job = withFields(operatorJob("nebula", S3_FLAGS), {}) as any;
  job.spec.template.spec.containers[0].command[2] =
    job.spec.template.spec.containers[0].command[2].replace(
      "nebula-metad-0.nebula-metad-headless.nebula.svc",
      "graph-metad-0.graph-metad-headless.prod.svc",
    );
  const viewWith = (backup: Record<string, unknown>) =>
    new StaticClusterView([
      ...exampleObjects("cluster-state.yaml"),
      {
        apiVersion: "apps.nebula-graph.io/v1alpha1",
        kind: "NebulaBackup",
        metadata: { name: "nb-full", namespace: "nebula", uid: UID },
        spec: { config: { clusterName: "graph", clusterNamespace: "prod" } },
        ...backup,
      },
    ]);

  it("is admitted when its owning NebulaBackup (same uid) names that cluster and namespace", () => {
    const verdicts = judge(job, { cluster: viewWith({}) });
    assert.deepEqual(verdicts.violated, [], verdicts.messages.join("\n"));
  });

  it("is denied when the NebulaBackup of that name has another uid (a forged reference)", () => {
    const forged = viewWith({ metadata: { name: "nb-full", namespace: "nebula", uid: "other" } });
    assert.deepEqual(judge(job, { cluster: forged }).violated, ["backup-job-cross-namespace"]);
  });

  it("is denied when the NebulaBackup names another cluster", () => {
    const other = viewWith({ spec: { config: { clusterName: "nebula" } } });
    assert.deepEqual(judge(job, { cluster: other }).violated, ["backup-job-cross-namespace"]);
  });

  it("is denied when the NebulaBackup does not exist", () => {
    assert.deepEqual(judge(job).violated, ["backup-job-cross-namespace"]);
  });

  it("asks for exactly that NebulaBackup before the rules run, and nothing for same-namespace Jobs", () => {
    const family = familyFor(job, "batch", "Job");
    assert.deepEqual(family?.nebulaBackupsNeeded?.(job, "nebula", config()), [
      { namespace: "nebula", name: "nb-full" },
    ]);
    assert.deepEqual(
      family?.nebulaBackupsNeeded?.(operatorJob("nebula", S3_FLAGS), "nebula", config()),
      [],
    );
  });
});

describe("backup CronJobs", () => {
  const cron = {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: {
      name: "nightly",
      namespace: "nebula",
      labels: { "app.kubernetes.io/cluster": "nebula-nobr" },
    },
    spec: {
      schedule: "0 3 * * *",
      jobTemplate: { spec: { template: (labelled as any).spec.template } },
    },
  };

  it("rejects a CronJob whose Jobs would back up a cluster without enableBR", () => {
    const verdicts = judge(cron);
    assert.ok(verdicts.violated.includes("backup-job-target-cluster"));
    assert.match(
      verdicts.messages.join("\n"),
      /metadata\.labels\["app.kubernetes.io\/cluster"\]: NebulaCluster "nebula-nobr"/,
    );
  });

  it("completes the pod template at spec.jobTemplate.spec.template.spec, on CREATE and on an UPDATE of the template", () => {
    const ok = withFields(cron, { "metadata.labels": { "app.kubernetes.io/cluster": "nebula" } });
    const before = withFields(ok, {
      "spec.jobTemplate.spec.template.spec.containers.0.image": "vesoft/br-ent:v3.4.0",
    });
    for (const operation of ["CREATE", "UPDATE"] as const) {
      const patch = judge(ok, { operation, oldObject: before }).decision.patch.map((op) => op.path);
      assert.ok(
        patch.includes("/spec/jobTemplate/spec/template/spec/imagePullSecrets"),
        patch.join(" "),
      );
    }
  });

  it("copies a label on the CronJob itself into its Job template, so its Jobs can pass", () => {
    const ok = withFields(cron, { "metadata.labels": { "app.kubernetes.io/cluster": "nebula" } });
    const mutated = judge(ok).decision.mutated as any;
    assert.deepEqual(mutated.spec.jobTemplate.metadata.labels, {
      "app.kubernetes.io/cluster": "nebula",
    });
    assert.deepEqual(judge(mutated).decision.patch, [], "idempotent");
  });

  it("lets an UPDATE that only suspends the CronJob through, though its cluster has no BR", () => {
    const suspended = withFields(cron, { "spec.suspend": true });
    const verdicts = judge(suspended, { operation: "UPDATE", oldObject: cron });
    assert.deepEqual(verdicts.violated, []);
  });
});
