import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { stringify } from "yaml";
import { auditObject, guarded } from "../../src/audit/audit.js";
import { buildReports } from "../../src/audit/policy-report.js";
import type { ClusterView } from "../../src/cluster-view/cluster-view.js";
import { StaticClusterView } from "../../src/cluster-view/static-view.js";
import { type Config, parseConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/log.js";
import {
  example,
  exampleCluster,
  exampleObjects,
  REPO_ROOT,
  withFields,
} from "../support/fixtures.js";
import { admissionReview, post } from "../support/https-client.js";
import { startInProcessServer } from "../support/in-process-server.js";
import { startServeProcess } from "../support/serve-process.js";

const ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE";
const SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const GCS_KEY =
  '{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----MIIEvQIBADANBg"}';
const SECRETS = [
  ACCESS_KEY,
  SECRET_KEY,
  "MIIEvQIBADANBg",
  Buffer.from(SECRET_KEY).toString("base64"),
];

const leaks = (text: string): string[] => SECRETS.filter((secret) => text.includes(secret));

describe("nothing secret leaks", () => {
  it("no log line, metric, report, admission message or check output holds a credential", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nbw-leaks-"));
    const state = [
      ...exampleObjects("cluster-state.yaml").filter((o) => o.kind !== "Secret"),
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "aws-s3-secret", namespace: "nebula" },
        data: {
          "access-key": Buffer.from(ACCESS_KEY).toString("base64"),
          "secret-key": Buffer.from(SECRET_KEY).toString("base64"),
        },
      },
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "half-secret", namespace: "nebula" },
        stringData: { "access-key": ACCESS_KEY },
      },
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "gcp-secret", namespace: "nebula" },
        stringData: { credentials: GCS_KEY },
      },
    ];
    const stateFile = join(dir, "state.yaml");
    await writeFile(stateFile, state.map((o) => stringify(o)).join("---\n"));

    const script = `exec br-ent backup full --storage s3://b-1 --s3.access_key ${ACCESS_KEY} --s3.secret_key=${SECRET_KEY} --s3.region us-west-2`;
    const objects = [
      example("restore-accepted.yaml"),
      withFields(example("restore-accepted.yaml"), { "spec.br.s3.secretName": "half-secret" }),
      withFields(example("restore-config-accepted.yaml"), {
        "spec.config.s3": undefined,
        "spec.config.gs": { location: "us", bucket: "b-1", secretName: "gcp-secret" },
      }),
      withFields(example("backup-job.yaml"), {
        "spec.template.spec.containers.0.command": ["/bin/sh", "-ecx", script],
      }),
      withFields(example("backup-job.yaml"), {
        "spec.template.spec.containers.0.command": [
          "/bin/sh",
          "-ecx",
          "br-ent backup full",
          "--s3.access_key",
          ACCESS_KEY,
          `--s3.secret_key=${SECRET_KEY}`,
        ],
      }),
      withFields(example("backup-job-denied.yaml"), {
        "spec.template.spec.containers.0.args": [ACCESS_KEY, SECRET_KEY],
      }),
      // Credentials in a URL's user part: the location is wrong, and must be said without them.
      withFields(example("backup-job.yaml"), {
        "spec.template.spec.containers.0.command": [
          "/bin/sh",
          "-ecx",
          `exec br-ent backup full --storage https://${ACCESS_KEY}:${SECRET_KEY}@minio.example/bkt`,
        ],
      }),
      withFields(example("backup-job.yaml"), {
        "spec.template.spec.containers.0.command": [
          "/bin/sh",
          "-ecx",
          `exec br-ent backup full --storage s3://${ACCESS_KEY}:${SECRET_KEY}@nebula-br-test/path --s3.region us-west-2`,
        ],
      }),
      // An unclosed ${ makes shell parsers throw with the rest of the word (the key) in the error.
      withFields(example("backup-job.yaml"), {
        "spec.template.spec.containers.0.command": [
          "/bin/sh",
          "-ecx",
          `exec br-ent backup full --storage s3://b --s3.secret_key \${${SECRET_KEY}`,
        ],
      }),
      withFields(example("restore-accepted.yaml"), {
        "spec.br.s3.endpoint": `https://${ACCESS_KEY}:${SECRET_KEY}@minio.example`,
      }),
    ];
    const manifests = join(dir, "objects.yaml");
    await writeFile(manifests, objects.map((o) => stringify(o)).join("---\n"));

    const webhook = await startServeProcess(["--cluster-state", stateFile, "--log-level", "debug"]);
    const said: string[] = [];
    try {
      for (const object of objects) {
        for (const path of ["/mutate", "/validate"]) {
          const answer = await post(webhook.port, webhook.ca, path, admissionReview(object));
          assert.equal(answer.status, 200, `${path}: ${answer.text.slice(0, 200)}`);
          const { patch: _patch, ...response } = answer.body.response; // the patch returns the user's own object
          said.push(JSON.stringify(response));
        }
      }
      // Malformed reviews that carry credentials must not echo them in errors or logs.
      said.push(
        (
          await post(webhook.port, webhook.ca, "/validate", undefined, {
            raw: `{"apiVersion":"${SECRET_KEY}"`,
          })
        ).text,
      );
      said.push(
        (
          await post(webhook.port, webhook.ca, "/validate", {
            apiVersion: "admission.k8s.io/v1",
            kind: "AdmissionReview",
            request: {
              uid: "u",
              kind: { kind: "Job", version: "v1", group: "batch" },
              operation: SECRET_KEY,
              object: objects[3],
            },
          })
        ).text,
      );
      said.push(
        (await post(webhook.port, webhook.ca, "/metrics", undefined, { method: "GET" })).text,
      );
    } finally {
      await webhook.stop();
    }

    const check = spawnSync(
      process.execPath,
      ["dist/src/cli.js", "check", "-f", manifests, "--cluster-state", stateFile],
      { cwd: REPO_ROOT, encoding: "utf8" },
    );
    said.push(check.stdout, check.stderr);

    const config = parseConfig({});
    assert.ok(config.ok);
    const view = new StaticClusterView(state);
    const entries = guarded(objects, config.config).flatMap((item) =>
      auditObject(item, view, config.config),
    );
    said.push(JSON.stringify([...buildReports(entries, new Date()).values()]));

    const logs = await readFile(webhook.logFile, "utf8");
    assert.ok(logs.split("\n").length > objects.length * 2, "the requests were logged");
    assert.deepEqual(leaks(logs), [], "log lines");
    assert.deepEqual(leaks(said.join("\n")), [], "responses, metrics, check output, reports");
  });

  it("an error raised while judging is a clean denial: its message (which may quote the object) is neither answered nor logged", async () => {
    const parsed = parseConfig({});
    assert.ok(parsed.ok);
    const thrown = () => new Error(`Bad substitution: ${SECRET_KEY}`);
    // One failure in the rules' lookups (asynchronous), one while planning (synchronous).
    const failingView: ClusterView = {
      isSynced: () => true,
      snapshot: async () => {
        throw thrown();
      },
      nebulaClusters: () => exampleCluster.nebulaClusters(),
      stop: async () => {},
    };
    const failingConfig: Config = {
      ...parsed.config,
      get exemptNamespaces(): string[] {
        throw thrown();
      },
    };
    const lines: string[] = [];
    const said: string[] = [];
    for (const [view, config] of [
      [failingView, parsed.config],
      [exampleCluster, failingConfig],
    ] as const) {
      const running = await startInProcessServer({
        config,
        view,
        logger: createLogger("debug", { write: (line: string) => lines.push(line) }),
      });
      const { port, caPem } = running;
      try {
        for (const path of ["/validate", "/mutate"]) {
          const answer = await post(
            port,
            caPem as string,
            path,
            admissionReview(example("restore-accepted.yaml")),
          );
          said.push(answer.text);
          assert.equal(answer.status, 200, answer.text);
          assert.equal(answer.body.response.allowed, false, answer.text);
          assert.equal(answer.body.response.status.code, 400);
          assert.match(answer.body.response.status.message, /could not check this object/);
        }
      } finally {
        await running.close(1000);
      }
    }
    assert.ok(
      lines.some((line) => line.includes('"admission failed"')),
      lines.join(""),
    );
    assert.deepEqual(leaks(lines.join("\n")), [], "log lines");
    assert.deepEqual(leaks(said.join("\n")), [], "answers");
  });
});
