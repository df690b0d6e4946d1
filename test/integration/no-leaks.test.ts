import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { stringify } from "yaml";
import { auditObject, guarded } from "../../src/audit/audit.js";
import { buildReports } from "../../src/audit/policy-report.js";
import { StaticClusterView } from "../../src/cluster-view/static-view.js";
import { parseConfig } from "../../src/config/config.js";
import { example, exampleObjects, REPO_ROOT, withFields } from "../support/fixtures.js";
import { admissionReview, post } from "../support/https-client.js";
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
    ];
    const manifests = join(dir, "objects.yaml");
    await writeFile(manifests, objects.map((o) => stringify(o)).join("---\n"));

    const webhook = await startServeProcess(["--cluster-state", stateFile, "--log-level", "debug"]);
    const said: string[] = [];
    try {
      for (const object of objects) {
        for (const path of ["/mutate", "/validate"]) {
          const answer = await post(webhook.port, webhook.ca, path, admissionReview(object));
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
});
