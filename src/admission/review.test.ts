import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeReview } from "./review.js";

const review = (request: unknown) => ({
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  request,
});
const valid = {
  uid: "705ab4f5-6393-11e8-b7cc-42010a800002",
  kind: { group: "batch", version: "v1", kind: "Job" },
  namespace: "nebula",
  name: "j",
  operation: "CREATE",
  object: { metadata: { name: "j" } },
};

describe("decoding AdmissionReviews", () => {
  it("extracts the request of a v1 AdmissionReview", () => {
    const decoded = decodeReview(review(valid));
    assert.ok(decoded.ok);
    assert.equal(decoded.request.kind, "Job");
    assert.equal(decoded.request.group, "batch");
    assert.equal(decoded.request.dryRun, false);
  });

  const bad: [string, unknown, string, boolean][] = [
    ["a body that is not an object", "[]", "body is not a JSON object", false],
    [
      "the v1beta1 API version",
      { ...review(valid), apiVersion: "admission.k8s.io/v1beta1" },
      "expected apiVersion admission.k8s.io/v1",
      false,
    ],
    [
      "a missing request",
      { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" },
      "request is missing",
      false,
    ],
    ["a missing uid", review({ ...valid, uid: undefined }), "request.uid is missing", false],
    [
      "an unknown operation",
      review({ ...valid, operation: "PATCH" }),
      "request.operation is not one of",
      true,
    ],
    [
      "a CREATE without object",
      review({ ...valid, object: undefined }),
      "request.object is required for CREATE",
      true,
    ],
    ["an object that is an array", review({ ...valid, object: [1] }), "must be objects", true],
    [
      "a kind without version",
      review({ ...valid, kind: { kind: "Job" } }),
      "request.kind must be",
      true,
    ],
  ];
  for (const [what, body, reason, answerable] of bad) {
    it(`rejects ${what} with a reason${answerable ? ", keeping the uid to answer with" : ""}`, () => {
      const decoded = decodeReview(body);
      assert.ok(!decoded.ok);
      assert.match(decoded.error.reason, new RegExp(reason.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
      assert.equal(decoded.error.uid !== undefined, answerable);
    });
  }
});
