import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connect } from "node:tls";
import fastJsonPatch from "fast-json-patch";
import { parseConfig } from "../../src/config/config.js";
import { Metrics } from "../../src/metrics.js";
import type { RunningServer } from "../../src/server/serve.js";
import { capturedLogs } from "../support/captured-logs.js";
import { example, withFields } from "../support/fixtures.js";
import { admissionReview, post } from "../support/https-client.js";
import { startInProcessServer } from "../support/in-process-server.js";
import { assertCompletedBackupPod } from "../support/measure.js";

const { logger, lines: logLines } = capturedLogs("info");

let server: RunningServer;
const metrics = new Metrics();
let ca: string;

before(async () => {
  const config = parseConfig({});
  assert.ok(config.ok);
  server = await startInProcessServer({
    maxBodyBytes: 256 * 1024,
    config: config.config,
    metrics,
    logger,
  });
  ca = server.caPem as string;
});

after(async () => {
  await server.close(1000);
});

const admit = (path: "/mutate" | "/validate", review: unknown) =>
  post(server.port, ca, path, review);
const patchOf = (response: any) =>
  JSON.parse(Buffer.from(response.patch, "base64").toString("utf8"));

describe("admission over HTTPS with real AdmissionReview JSON", () => {
  it("mutates the documented restore: concurrency becomes 5, and the result validates", async () => {
    const restore = example("restore-accepted.yaml");
    const review = admissionReview(restore);
    const mutated = await admit("/mutate", review);
    assert.equal(mutated.status, 200);
    assert.equal(mutated.body.apiVersion, "admission.k8s.io/v1");
    assert.equal(mutated.body.kind, "AdmissionReview");
    assert.equal(mutated.body.response.uid, review.request.uid);
    assert.equal(mutated.body.response.allowed, true);
    assert.equal(mutated.body.response.patchType, "JSONPatch");
    const patched = fastJsonPatch.applyPatch(
      structuredClone(restore),
      patchOf(mutated.body.response),
    ).newDocument;
    assert.deepEqual(patched, withFields(restore, { "spec.br.concurrency": 5 }));

    const validated = await admit("/validate", admissionReview(patched));
    assert.equal(validated.body.response.allowed, true);
    assert.equal(validated.body.response.patch, undefined);
  });

  it("denies a broken restore with every rule id and field path in the message", async () => {
    const answer = await admit("/validate", admissionReview(example("restore-denied.yaml")));
    const response = answer.body.response;
    assert.equal(response.allowed, false);
    assert.equal(response.status.code, 403);
    assert.match(response.status.message, /^NebulaRestore "restore-broken" breaks 3 rules: /);
    assert.match(
      response.status.message,
      /\[restore-secret-name\] spec\.br\.s3\.secretName: is required/,
    );
    assert.match(
      response.status.message,
      /\[restore-region\] spec\.br\.s3\.region: is not a region name/,
    );
    assert.match(response.auditAnnotations["restore-region"], /^deny: /);
  });

  it("completes a br-ent Job on /mutate and warns about plain-text keys on /validate", async () => {
    const job = example("backup-job.yaml");
    const mutated = await admit("/mutate", admissionReview(job));
    const patched: any = fastJsonPatch.applyPatch(
      structuredClone(job),
      patchOf(mutated.body.response),
    ).newDocument;
    const pod = patched.spec.template.spec;
    assertCompletedBackupPod(pod);

    const validated = await admit("/validate", admissionReview(patched));
    assert.equal(validated.body.response.allowed, true);
    assert.match(validated.body.response.warnings[0], /\[backup-job-plaintext-credentials\]/);
  });

  it("denies a br-ent Job for a cluster without enableBR: true", async () => {
    const answer = await admit("/validate", admissionReview(example("backup-job-denied.yaml")));
    assert.equal(answer.body.response.allowed, false);
    assert.match(
      answer.body.response.status.message,
      /\[backup-job-target-cluster\] .*NebulaCluster "nebula-nobr" in namespace "nebula" does not set spec.enableBR: true/,
    );
  });

  it("allows unrelated objects untouched: a ConfigMap, a plain Job, a restore in an exempt namespace", async () => {
    const configMap = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c", namespace: "nebula" },
      data: { a: "b" },
    };
    const plainJob = withFields(example("backup-job.yaml"), {
      "spec.template.spec.containers": [{ name: "pi", image: "perl", command: ["perl"] }],
    });
    const exempt = withFields(example("restore-denied.yaml"), {
      "metadata.namespace": "kube-system",
    });
    for (const object of [configMap, plainJob, exempt]) {
      for (const path of ["/mutate", "/validate"] as const) {
        const review = admissionReview(object);
        const answer = await admit(path, review);
        assert.deepEqual(
          answer.body.response,
          { uid: review.request.uid, allowed: true },
          `${object.kind} on ${path}`,
        );
      }
    }
  });

  it("answers DELETE of a restore without judging it", async () => {
    const restore = example("restore-denied.yaml");
    const answer = await admit(
      "/validate",
      admissionReview(null, {
        operation: "DELETE",
        oldObject: restore,
        group: "apps.nebula-graph.io",
        version: "v1alpha1",
        kind: "NebulaRestore",
      }),
    );
    assert.equal(answer.body.response.allowed, true);
  });

  it("logs uid, rule ids and verdicts, never the command line or credential values", async () => {
    const job = withFields(example("backup-job.yaml"), {
      "spec.template.spec.containers.0.command": [
        "sh",
        "-c",
        "br-ent backup full --storage s3://b-1 --s3.access_key AKIAIOSFODNN7EXAMPLE --s3.secret_key wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
      ],
    });
    const review = admissionReview(job);
    await admit("/validate", review);
    const line = logLines.find((l) => l.includes(review.request.uid));
    assert.ok(line, "the admission is logged with its uid");
    const entry = JSON.parse(line);
    assert.equal(entry.verdicts["backup-job-plaintext-credentials"], "warn:violation");
    const all = logLines.join("");
    assert.ok(
      !all.includes("AKIAIOSFODNN7EXAMPLE") && !all.includes("wJalrXUtnFEMIK7MDENG"),
      "no credential in any log line",
    );
  });
});

describe("bad input gets a clear answer", () => {
  it("malformed JSON: 400", async () => {
    const answer = await post(server.port, ca, "/validate", undefined, {
      raw: '{"apiVersion": "admission.k8s.io/v1", ',
    });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error, "request body is not valid JSON");
  });

  it("a wrong content type: 415", async () => {
    const answer = await post(server.port, ca, "/validate", undefined, {
      raw: "kind: AdmissionReview",
      contentType: "application/yaml",
    });
    assert.equal(answer.status, 415);
    assert.match(answer.body.error, /content type must be application\/json/);
  });

  it("an oversized body: 413, and the server keeps serving", async () => {
    const huge = admissionReview({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "big" },
      data: { blob: "x".repeat(300 * 1024) },
    });
    const answer = await admit("/validate", huge);
    assert.equal(answer.status, 413);
    assert.match(answer.body.error, /request body exceeds 262144 bytes/);
    assert.equal(
      (await post(server.port, ca, "/healthz", undefined, { method: "GET" })).status,
      200,
    );
  });

  it("a wrong apiVersion or a missing uid: 400 with the reason", async () => {
    const v1beta1 = {
      ...admissionReview(example("restore-accepted.yaml")),
      apiVersion: "admission.k8s.io/v1beta1",
    };
    const answer = await admit("/validate", v1beta1);
    assert.equal(answer.status, 400);
    assert.match(answer.body.error, /expected apiVersion admission.k8s.io\/v1/);
    const noUid = admissionReview(example("restore-accepted.yaml")) as any;
    delete noUid.request.uid;
    assert.equal((await admit("/validate", noUid)).status, 400);
  });

  it("a review with a uid but no object: an AdmissionReview the API server can read, denied with 400", async () => {
    const review = admissionReview(example("restore-accepted.yaml")) as any;
    review.request.object = null;
    const answer = await admit("/validate", review);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.response.uid, review.request.uid);
    assert.equal(answer.body.response.allowed, false);
    assert.equal(answer.body.response.status.code, 400);
    assert.match(answer.body.response.status.message, /request.object is required for CREATE/);
  });

  it("unknown paths: 404 that names the endpoints", async () => {
    const answer = await admit("/admit" as "/validate", {});
    assert.equal(answer.status, 404);
    assert.match(answer.body.error, /POST \/validate or \/mutate/);
  });

  it("serves probes: /healthz and /readyz", async () => {
    assert.equal(
      (await post(server.port, ca, "/healthz", undefined, { method: "GET" })).text,
      "ok",
    );
    assert.equal(
      (await post(server.port, ca, "/readyz", undefined, { method: "GET" })).status,
      200,
    );
  });

  it("refuses TLS below 1.2", async () => {
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect(
        { host: "127.0.0.1", port: server.port, ca, maxVersion: "TLSv1.1", minVersion: "TLSv1" },
        () => {
          socket.end();
          resolve("connected");
        },
      );
      socket.on("error", () => resolve("refused"));
    });
    assert.equal(outcome, "refused");
  });
});

describe("metrics", () => {
  it("serves Prometheus metrics: requests by kind and outcome, rule verdicts, latency, bad requests", async () => {
    const answer = await post(server.port, ca, "/metrics", undefined, { method: "GET" });
    assert.equal(answer.status, 200);
    assert.match(
      answer.text,
      /nebula_br_webhook_admission_requests_total\{stage="validate",kind="apps.nebula-graph.io\/NebulaRestore",operation="CREATE",allowed="false"\} [1-9]/,
    );
    assert.match(
      answer.text,
      /nebula_br_webhook_rule_verdicts_total\{stage="validate",rule="restore-region",mode="enforce",verdict="fail"\} [1-9]/,
    );
    assert.match(answer.text, /nebula_br_webhook_patches_total\{kind="batch\/Job"\} [1-9]/);
    assert.match(
      answer.text,
      /nebula_br_webhook_admission_duration_seconds_bucket\{le="0.005",stage="mutate"\} [1-9]/,
    );
    assert.match(
      answer.text,
      /nebula_br_webhook_bad_requests_total\{reason="entity.too.large"\} 1/,
    );
  });
});
