import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { admit } from "../../src/admission/admit.js";
import { decodeReview } from "../../src/admission/review.js";
import { parseConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/log.js";
import type { RunningServer } from "../../src/server/serve.js";
import { example, exampleCluster } from "../support/fixtures.js";
import { post } from "../support/https-client.js";
import { startInProcessServer } from "../support/in-process-server.js";

const config = (() => {
  const parsed = parseConfig({});
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.config;
})();

/** Counts of what the fuzzers ran, reported at the end (and in the closing note). */
export const FUZZ_RUNS = { pipeline: 3000, https: 300 };

/** Strings that stress parsers: unicode, control characters, shell syntax, huge ones. */
const nastyString = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom(
    "br-ent backup full",
    "sh -c",
    "'unterminated",
    "${UNCLOSED",
    "br-ent backup full --storage s3://b --s3.secret_key ${KEY",
    "https://AK:SECRET@host/bkt",
    "$(rm -rf /)",
    "--meta",
    "s3://",
    "\u0000",
    "☃".repeat(50),
  ),
  fc.integer({ min: 1, max: 200_000 }).map((n) => "x".repeat(n)),
);

const anything: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    nastyString,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(nastyString, tie("value"), { maxKeys: 5 }),
  ),
})).value;

/** Mostly the valid shape, sometimes anything at all: deep cases stay reachable. */
const mostly = <T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ arbitrary: valid, weight: 9 }, { arbitrary: anything, weight: 1 });

const BR_WORDS = [
  "/bin/sh",
  "-ecx",
  "br-ent backup full --storage s3://b",
  "br-ent backup incr --spaces a",
  "--meta",
  "nebula-metad-0.nebula-metad-headless.nebula.svc:9559",
];

/** A container that mostly runs br-ent, with arbitrary argv. */
const container = fc.record({
  name: mostly(nastyString),
  image: mostly(fc.constantFrom("vesoft/br-ent:v3.5.0", "reg.example/br-ent@sha256:00", "busybox")),
  command: mostly(fc.array(fc.oneof(fc.constantFrom(...BR_WORDS), nastyString), { maxLength: 8 })),
  args: fc.option(mostly(fc.array(nastyString, { maxLength: 4 }))),
  env: fc.option(
    mostly(
      fc.array(
        fc.record({
          name: mostly(fc.constantFrom("META_ADDRESS", "AK")),
          value: mostly(nastyString),
        }),
        { maxLength: 3 },
      ),
    ),
  ),
});

const podSpec = fc.record({
  containers: mostly(fc.array(container, { minLength: 1, maxLength: 3 })),
  imagePullSecrets: fc.option(
    mostly(fc.array(fc.record({ name: mostly(nastyString) }), { maxLength: 2 })),
  ),
});

const labels = fc.option(
  mostly(
    fc.dictionary(
      fc.constantFrom("app.kubernetes.io/cluster", "x"),
      fc.constantFrom("nebula", "nebula-nobr", "ghost"),
    ),
  ),
);

const job = fc.record({
  apiVersion: fc.constant("batch/v1"),
  kind: fc.constant("Job"),
  metadata: mostly(fc.record({ name: nastyString, namespace: fc.constant("nebula"), labels })),
  spec: mostly(fc.record({ template: mostly(fc.record({ spec: podSpec })) })),
});

const cronJob = fc.record({
  apiVersion: fc.constant("batch/v1"),
  kind: fc.constant("CronJob"),
  metadata: mostly(fc.record({ name: nastyString, namespace: fc.constant("nebula"), labels })),
  spec: mostly(
    fc.record({
      schedule: mostly(nastyString),
      jobTemplate: mostly(
        fc.record({ spec: fc.record({ template: fc.record({ spec: podSpec }) }) }),
      ),
    }),
  ),
});

const settings = fc.dictionary(
  fc.constantFrom("clusterName", "clusterNamespace", "backupName", "concurrency", "s3", "gs"),
  anything,
);

const nebulaObject = fc.record({
  apiVersion: fc.constant("apps.nebula-graph.io/v1alpha1"),
  kind: fc.constantFrom("NebulaRestore", "NebulaBackup", "NebulaCronBackup"),
  metadata: fc.record({ name: nastyString, namespace: fc.constant("nebula") }),
  spec: mostly(
    fc.record(
      {
        br: settings,
        config: settings,
        schedule: mostly(nastyString),
        backupTemplate: mostly(fc.record({ config: settings })),
      },
      { requiredKeys: [] },
    ),
  ),
});

/** Objects shaped like the kinds we guard, with fields replaced by anything now and then. */
const guardedObject = fc.oneof(
  { arbitrary: job, weight: 3 },
  { arbitrary: cronJob, weight: 2 },
  { arbitrary: nebulaObject, weight: 3 },
  { arbitrary: anything, weight: 1 },
);

/** The request kind the API server would send for an object (when it has one). */
function requestKind(object: unknown): { group: string; version: string; kind: string } {
  const apiVersion = String((object as { apiVersion?: unknown })?.apiVersion ?? "v1");
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  return {
    group: group ?? "",
    version: version ?? "v1",
    kind: String((object as { kind?: unknown })?.kind ?? "ConfigMap"),
  };
}

/** Reviews mostly as the API server sends them (kind matching the object), mutated at random. */
const review = guardedObject.chain((object) =>
  fc.record({
    apiVersion: mostly(fc.constant("admission.k8s.io/v1")),
    kind: mostly(fc.constant("AdmissionReview")),
    request: mostly(
      fc.record({
        uid: mostly(fc.uuid()),
        kind: mostly(fc.constant(requestKind(object))),
        namespace: mostly(fc.constantFrom("nebula", "nebula", "nebula", "kube-system")),
        operation: mostly(fc.constantFrom("CREATE", "CREATE", "UPDATE", "DELETE")),
        object: fc.constant(object),
        oldObject: fc.oneof(fc.constant(null), guardedObject),
      }),
    ),
  }),
);

/** JSON nested far deeper than any real object. */
const deeplyNested = fc.integer({ min: 100, max: 3000 }).map((depth) => {
  let value: unknown = "leaf";
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { spec: value };
  return { ...(example("backup-job.yaml") as object), spec: value };
});

describe("fuzzing the admission pipeline (fast-check)", () => {
  it(`decodes and judges ${FUZZ_RUNS.pipeline} random reviews without throwing, always with an answer`, async (t) => {
    const logger = createLogger("silent");
    let judged = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { arbitrary: review, weight: 8 },
          {
            arbitrary: review.map((r) => ({
              ...r,
              request: { ...(r.request as object), object: undefined },
            })),
            weight: 1,
          },
          { arbitrary: anything, weight: 1 },
        ),
        async (body) => {
          const decoded = decodeReview(body);
          if (!decoded.ok) {
            assert.equal(typeof decoded.error.reason, "string");
            return;
          }
          for (const stage of ["mutate", "validate"] as const) {
            const admission = await admit(
              decoded.request,
              stage,
              { view: exampleCluster, config, logger },
              AbortSignal.timeout(5000),
            );
            assert.equal(admission.response.uid, decoded.request.uid);
            if (admission.results.length > 0) judged++;
            assert.equal(typeof admission.response.allowed, "boolean");
            if (admission.response.patch)
              JSON.parse(Buffer.from(admission.response.patch, "base64").toString());
          }
        },
      ),
      { numRuns: FUZZ_RUNS.pipeline },
    );
    t.diagnostic(`${judged} of ${FUZZ_RUNS.pipeline * 2} admissions reached the rules`);
    // The generator must reach the rules, not stop at decoding.
    assert.ok(
      judged > FUZZ_RUNS.pipeline * 0.2,
      `only ${judged} of ${FUZZ_RUNS.pipeline * 2} admissions reached the rules`,
    );
  });
});

describe("fuzzing the HTTPS server", () => {
  let server: RunningServer;
  before(async () => {
    server = await startInProcessServer({ config });
  });
  after(() => server.close(1000));

  it(`answers ${FUZZ_RUNS.https} random bodies (reviews, deep nesting, huge strings, raw bytes) with a review or a 4xx, and stays up`, async () => {
    const body = fc.oneof(
      review.map((r) => ({ raw: JSON.stringify(r) })),
      deeplyNested.map((o) => ({
        raw: JSON.stringify({
          apiVersion: "admission.k8s.io/v1",
          kind: "AdmissionReview",
          request: {
            uid: "u",
            kind: { group: "batch", version: "v1", kind: "Job" },
            operation: "CREATE",
            namespace: "nebula",
            object: o,
          },
        }),
      })),
      fc.string({ unit: "binary", maxLength: 2000 }).map((raw) => ({ raw })),
      // Hostile strings where label values and log fields come from.
      fc
        .tuple(review, nastyString, nastyString, nastyString, nastyString)
        .map(([r, group, kind, name, namespace]) => ({
          raw: JSON.stringify({
            ...(r as object),
            request: {
              ...((r as { request?: object }).request ?? {}),
              uid: "u",
              kind: { group, version: "v1", kind },
              name,
              namespace,
            },
          }),
        })),
    );
    await fc.assert(
      fc.asyncProperty(body, async ({ raw }) => {
        const started = Date.now();
        const answer = await post(
          server.port,
          server.caPem as string,
          "/validate?timeout=5s",
          undefined,
          { raw },
        );
        assert.ok(Date.now() - started < 5000, "within the deadline");
        assert.ok(
          [200, 400, 413].includes(answer.status),
          `status ${answer.status}: ${answer.text.slice(0, 200)}`,
        );
        assert.notEqual(answer.body, undefined, "a JSON answer");
        if (answer.status === 200) {
          assert.equal(answer.body.kind, "AdmissionReview");
          assert.equal(typeof answer.body.response.allowed, "boolean");
        }
      }),
      { numRuns: FUZZ_RUNS.https },
    );
    // Label values only from closed sets, whatever was sent.
    const metrics = (
      await post(server.port, server.caPem as string, "/metrics", undefined, { method: "GET" })
    ).text;
    assert.ok(metrics.length < 64 * 1024, `/metrics is ${metrics.length} bytes`);
    const ours = metrics
      .split("\n")
      .filter((line) => /^nebula_br_webhook_(admission_requests|patches|rule_verdicts)/.test(line))
      .join("\n");
    const kinds = new Set([...ours.matchAll(/[{,]kind="([^"]*)"/g)].map((m) => m[1]));
    for (const kind of kinds)
      assert.match(
        kind as string,
        /^(other|Pod|NebulaCluster|batch\/(Job|CronJob)|apps\/(Deployment|StatefulSet|ReplicaSet|DaemonSet)|apps\.nebula-graph\.io\/Nebula(Restore|Backup|CronBackup))$/,
      );
    for (const [, operation] of ours.matchAll(/[{,]operation="([^"]*)"/g))
      assert.match(operation as string, /^(CREATE|UPDATE|DELETE|CONNECT|other)$/);
    assert.equal(
      (await post(server.port, server.caPem as string, "/healthz", undefined, { method: "GET" }))
        .status,
      200,
    );
  });
});
