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
  /** Why the e2e API server cannot show this one (a feature gate it has off). */
  readonly notOnTheTestApiServer?: string;
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
  // A second adversarial pass (each found admitted, now denied)
  {
    name: "a carriage return that hides the call behind a comment to the reader, not to sh",
    object: job({ containers: [sh(`true \r# ; exec ${BACKUP}`)] }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "an unquoted variable whose value adds --meta",
    object: job({
      containers: [
        {
          ...sh(`exec br-ent backup full --meta ${GOOD} --storage $S`),
          env: [{ name: "S", value: `s3://b --meta ${NOBR}` }],
        },
      ],
    }),
    rule: "backup-job-readable",
  },
  {
    name: "an unquoted key from a Secret (its value could add flags)",
    object: job({
      containers: [
        {
          ...sh(`exec br-ent backup full --meta ${GOOD} --storage s3://b --s3.secret_key $SK`),
          env: [{ name: "SK", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }],
        },
      ],
    }),
    rule: "backup-job-readable",
  },
  {
    name: "an assignment that does not run (false && M=good)",
    object: job({
      containers: [
        sh(`M=${NOBR}; false && M=${GOOD}; exec br-ent backup full --meta "$M" --storage s3://b`),
      ],
    }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "an assignment in a subshell",
    object: job({
      containers: [
        {
          ...sh(`(export M=${GOOD}); exec br-ent backup full --meta "$M" --storage s3://b`),
          env: [{ name: "M", value: NOBR }],
        },
      ],
    }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "printf -v assigning the host",
    object: job({
      containers: [
        {
          name: "b",
          image: "vesoft/br-ent:v3.7.0",
          command: [
            "bash",
            "-c",
            `printf -v M %s ${NOBR}; exec br-ent backup full --meta "$M" --storage s3://b`,
          ],
          env: [{ name: "M", value: GOOD }],
        },
      ],
    }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "a flag name from a variable (--m$E=…)",
    object: job({
      containers: [
        {
          ...sh(`exec br-ent backup full --meta ${GOOD} --storage s3://b --m$E=${NOBR}`),
          env: [{ name: "E", value: "eta" }],
        },
      ],
    }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "a flag that takes the next word as its value, as pflag does (--s3.region --meta=…)",
    object: job({
      containers: [
        sh(`exec br-ent backup full --meta ${NOBR} --storage s3://b --s3.region --meta=${GOOD}`),
      ],
    }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "brace expansion in bash",
    object: job({
      containers: [
        {
          name: "b",
          image: "vesoft/br-ent:v3.7.0",
          command: [
            "bash",
            "-c",
            `exec br-ent backup full --meta ${GOOD} --storage s3://b --s3.region {us-east-1,--meta=${NOBR}}`,
          ],
        },
      ],
    }),
    rule: "backup-job-stray-words",
  },
  {
    name: "restore --mode from a ConfigMap",
    object: job({
      containers: [
        {
          ...sh(
            `exec br-ent restore full --mode="$MODE" --meta ${GOOD} --cluster=nebula-nobr --namespace nebula --storage s3://b`,
          ),
          env: [{ name: "MODE", valueFrom: { configMapKeyRef: { name: "cm", key: "mode" } } }],
        },
      ],
    }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "a verb from envFrom through the kubelet's $(V)",
    object: job({
      containers: [
        {
          name: "b",
          image: "vesoft/br-ent:v3.7.0",
          command: ["br-ent", "$(V)", "full", "--meta", NOBR, "--storage", "s3://b"],
          envFrom: [{ configMapRef: { name: "cm" } }],
        },
      ],
    }),
    rule: "backup-job-readable",
  },
  {
    name: "a postStart hook",
    object: job({
      containers: [
        {
          name: "b",
          image: "vesoft/br-ent:v3.7.0",
          command: ["sleep", "3600"],
          lifecycle: {
            postStart: {
              exec: {
                command: ["br-ent", "backup", "full", "--meta", NOBR, "--storage", "s3://b"],
              },
            },
          },
        },
      ],
    }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "an exec startup probe in an image of another name",
    object: job({
      containers: [
        {
          name: "b",
          image: "registry.example/tools:1",
          command: ["sleep", "3600"],
          startupProbe: {
            exec: {
              command: ["/opt/br-ent", "backup", "full", "--meta", NOBR, "--storage", "s3://b"],
            },
          },
        },
      ],
    }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "an init container that copies the binary with cat",
    object: job({
      initContainers: [
        {
          name: "i",
          image: "vesoft/br-ent:v3.7.0",
          command: ["sh", "-c", "cat /usr/local/bin/br-ent > /x/t"],
        },
      ],
      containers: [
        {
          name: "m",
          image: "busybox",
          command: ["sh", "-c", `chmod +x /x/t && exec /x/t backup full --meta ${NOBR}`],
        },
      ],
    }),
    rule: "backup-job-readable",
  },
  {
    name: "a volume mounted over /usr/local/bin",
    object: job({
      containers: [
        {
          ...sh(`exec /usr/local/bin/br-ent backup full --meta ${GOOD} --storage s3://b`),
          volumeMounts: [{ name: "w", mountPath: "/usr/local/bin" }],
        },
      ],
      volumes: [{ name: "w", emptyDir: {} }],
    }),
    rule: "backup-job-readable",
  },
  {
    name: "BASH_ENV running a backup before the command",
    object: job({
      containers: [
        {
          name: "b",
          image: "vesoft/br-ent:v3.7.0",
          command: ["bash", "-c", "exec br-ent version"],
          env: [{ name: "BASH_ENV", value: "/cfg/env.sh" }],
        },
      ],
    }),
    rule: "backup-job-readable",
  },
  {
    name: "a mirror image named vesoft-br-ent, args only",
    object: job({
      containers: [
        {
          name: "b",
          image: "registry.example/mirror/vesoft-br-ent:v3.7.0",
          args: ["backup", "full", "--meta", NOBR, "--storage", "s3://b"],
        },
      ],
    }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "args only in an image of another name",
    object: job({
      containers: [
        { name: "b", image: "sha256:0123456789abcdef", args: ["backup", "full", "--meta", NOBR] },
      ],
    }),
    rule: "backup-job-target-cluster",
  },
  {
    name: "an image volume of br-ent run through a pattern",
    notOnTheTestApiServer:
      "image volumes are behind the ImageVolume feature gate, off there: the API server turns the volume into an emptyDir",
    object: job({
      volumes: [{ name: "br", image: { reference: "vesoft/br-ent:v3.7.0" } }],
      containers: [
        {
          name: "m",
          image: "busybox",
          command: ["sh", "-c", `exec /br/usr/local/bin/br-en? backup full --meta ${NOBR}`],
          volumeMounts: [{ name: "br", mountPath: "/br" }],
        },
      ],
    }),
    rule: "backup-job-readable",
  },
  {
    name: "a command held in a variable, split by the shell",
    object: job({
      containers: [
        {
          name: "b",
          image: "busybox",
          command: ["sh", "-c", `X="br-ent backup full --meta ${NOBR}"; $X`],
        },
      ],
    }),
    rule: "backup-job-readable",
  },
  {
    name: "taskset -c LIST",
    object: job({
      containers: [
        {
          name: "b",
          image: "busybox",
          command: [
            "taskset",
            "-c",
            "0",
            "br-ent",
            "backup",
            "full",
            "--meta",
            NOBR,
            "--storage",
            "s3://b",
          ],
        },
      ],
    }),
    rule: "backup-job-target-cluster",
  },
];
