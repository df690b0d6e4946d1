/**
 * The bypass classes an adversarial review found, as workloads: shared by the rule tables
 * (src/rules/br-workload-bypass.test.ts) and the end-to-end suite, which sends each through
 * the real API server to prove the shipped matchConditions forward it.
 */
import type { config } from "./fixtures.js";
import { workload } from "./workloads.js";

/**
 * Each class of bypass an adversarial review found: a br-ent backup or restore aimed at
 * `nebula-nobr` (no enableBR) that got admitted. Every row must now be denied, with the rule
 * that catches it.
 */
export const NOBR = "nebula-nobr-metad-0.nebula-nobr-metad-headless.nebula.svc.cluster.local:9559";
export const GOOD = "nebula-metad-0.nebula-metad-headless.nebula.svc.cluster.local:9559";
export const BACKUP = `br-ent backup full --meta ${NOBR} --storage s3://b-1`;
export const SAFE_LABEL = { "app.kubernetes.io/cluster": "nebula" };

export const sh = (script: string, name = "b") => ({
  name,
  image: "vesoft/br-ent:v3.7.0",
  command: ["/bin/sh", "-ec", script],
});
export const sleeper = { name: "side", image: "busybox", command: ["sleep", "3600"] };

export interface Bypass {
  readonly name: string;
  readonly object: ReturnType<typeof workload>;
  readonly rule: string;
  readonly cfg?: ReturnType<typeof config>;
}

export const job = (pod: Record<string, unknown>, labels?: Record<string, string>) =>
  workload("Job", pod, { labels });

export const BYPASSES: Bypass[] = [
  // br-ent in initContainers
  {
    name: "an init container of a Job",
    object: job({ initContainers: [sh(BACKUP)], containers: [sleeper] }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "an init container of a CronJob",
    object: workload("CronJob", { initContainers: [sh(BACKUP)], containers: [sleeper] }),
    rule: "backup-job-target-cluster",
  },
  // only the first call was read
  {
    name: "br-ent version && exec br-ent backup",
    object: job({ containers: [sh(`br-ent version && exec ${BACKUP}`)] }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "a second backup call after a good one",
    object: job({
      containers: [sh(`br-ent backup full --meta ${GOOD} --storage s3://b-1; ${BACKUP}`)],
    }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "show; then backup",
    object: job({ containers: [sh(`br-ent show --storage s3://b-1; ${BACKUP}`)] }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "exec -a NAME",
    object: job({ containers: [sh(`exec -a worker ${BACKUP}`)] }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "a copy of the binary",
    object: job({
      containers: [sh(`cp /usr/local/bin/br-ent /tmp/x && /tmp/x backup full --meta ${NOBR}`)],
    }),
    rule: "backup-job-readable",
  },
  {
    name: "a symlink of the binary",
    object: job({
      containers: [sh(`ln -s /usr/local/bin/br-ent /tmp/b; /tmp/b backup full --meta ${NOBR}`)],
    }),
    rule: "backup-job-readable",
  },
  // several containers, no label: the first alone decided
  {
    name: "a good first container and a bad second one",
    object: job({
      containers: [sh(`br-ent backup full --meta ${GOOD} --storage s3://b-1`), sh(BACKUP, "b2")],
    }),
    rule: "backup-job-target-cluster",
  },
  // --meta matched only at its start
  {
    name: "a --meta host with a foreign suffix",
    object: job(
      {
        containers: [
          sh(
            "br-ent backup full --meta nebula-metad-0.nebula-metad-headless.nebula.svc.evil.example:9559 --storage s3://b-1",
          ),
        ],
      },
      SAFE_LABEL,
    ),
    rule: "backup-job-target-cluster",
  },
  // unreadable --meta under a BR-ready label
  {
    name: "an IP address as --meta",
    object: job(
      { containers: [sh("br-ent backup full --meta 10.0.0.7:9559 --storage s3://b-1")] },
      SAFE_LABEL,
    ),
    rule: "backup-job-target-cluster",
  },
  {
    name: "an upper-case --meta host",
    object: job(
      {
        containers: [
          sh(
            "br-ent backup full --meta NEBULA-NOBR-METAD-0.NEBULA-NOBR-METAD-HEADLESS.NEBULA.SVC.CLUSTER.LOCAL:9559 --storage s3://b-1",
          ),
        ],
      },
      SAFE_LABEL,
    ),
    rule: "backup-job-target-cluster",
  },
  {
    name: "--meta from $(command substitution)",
    object: job(
      { containers: [sh("br-ent backup full --meta $(cat /etc/m) --storage s3://b-1")] },
      SAFE_LABEL,
    ),
    rule: "backup-job-readable",
  },
  {
    name: "--meta from a ConfigMap env value",
    object: job(
      {
        containers: [
          {
            ...sh("br-ent backup full --meta $M --storage s3://b-1"),
            env: [{ name: "M", valueFrom: { configMapKeyRef: { name: "c", key: "m" } } }],
          },
        ],
      },
      SAFE_LABEL,
    ),
    rule: "backup-job-target-cluster",
  },
  {
    name: "--meta from ${M:-default}",
    object: job(
      { containers: [sh(`br-ent backup full --meta \${M:-${NOBR}} --storage s3://b-1`)] },
      SAFE_LABEL,
    ),
    rule: "backup-job-readable",
  },
  {
    name: "the kubelet's $(M) from a ConfigMap",
    object: job(
      {
        containers: [
          {
            name: "b",
            image: "vesoft/br-ent:v3.7.0",
            command: ["br-ent", "backup", "full", "--meta", "$(M)"],
            env: [{ name: "M", valueFrom: { configMapKeyRef: { name: "c", key: "m" } } }],
          },
        ],
      },
      SAFE_LABEL,
    ),
    rule: "backup-job-target-cluster",
  },
  // shell forms the parser did not know
  {
    name: "bash -o pipefail -c",
    object: job({
      containers: [{ name: "b", image: "x", command: ["bash", "-o", "pipefail", "-c", BACKUP] }],
    }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "sh +e -c",
    object: job({ containers: [{ name: "b", image: "x", command: ["sh", "+e", "-c", BACKUP] }] }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "sh -c --",
    object: job({ containers: [{ name: "b", image: "x", command: ["sh", "-c", "--", BACKUP] }] }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "busybox sh -c",
    object: job({
      containers: [{ name: "b", image: "busybox", command: ["busybox", "sh", "-c", BACKUP] }],
    }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "env X=1 sh -c",
    object: job({
      containers: [{ name: "b", image: "x", command: ["env", "X=1", "sh", "-c", BACKUP] }],
    }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "tini --",
    object: job({
      containers: [
        {
          name: "b",
          image: "x",
          command: ["tini", "--", "br-ent", "backup", "full", "--meta", NOBR],
        },
      ],
    }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "python -c",
    object: job({
      containers: [
        { name: "b", image: "x", command: ["python3", "-c", `import os; os.system("${BACKUP}")`] },
      ],
    }),
    rule: "backup-job-readable",
  },
  {
    name: "eval",
    object: job({ containers: [sh(`eval "${BACKUP}"`)] }),
    rule: "backup-job-readable",
  },
  {
    name: "a script from a ConfigMap in the br-ent image",
    object: job(
      {
        containers: [
          {
            name: "b",
            image: "reg.example/vesoft/br-ent:v3.7.0",
            command: ["sh", "/scripts/backup.sh"],
          },
        ],
      },
      SAFE_LABEL,
    ),
    rule: "backup-job-readable",
  },
  {
    name: "a renamed binary in the br-ent image",
    object: job(
      {
        containers: [
          {
            name: "b",
            image: "vesoft/br-ent:v3.7.0",
            command: ["/opt/tool", "backup", "full", "--meta", NOBR],
          },
        ],
      },
      SAFE_LABEL,
    ),
    rule: "backup-job-readable",
  },
  // restore
  {
    name: "br-ent restore against a cluster without BR",
    object: job({
      containers: [
        sh(
          `br-ent restore full --meta ${NOBR} --storage s3://b-1 --name BACKUP_2024_01_01_00_00_00`,
        ),
      ],
    }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "restore --mode=k8s naming a cluster without BR",
    object: workload("Pod", {
      containers: [
        sh(
          "br-ent restore full --mode=k8s --cluster=nebula-nobr --namespace nebula --storage s3://b-1",
        ),
      ],
    }),
    rule: "backup-job-target-cluster",
  },
  // another namespace
  {
    name: "a Job backing up another namespace's cluster",
    object: job({
      containers: [
        sh(
          "br-ent backup full --meta graph-metad-0.graph-metad-headless.prod.svc.cluster.local:9560 --storage s3://b-1",
        ),
      ],
    }),
    rule: "backup-job-cross-namespace",
  },
];
