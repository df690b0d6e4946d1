import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { collectionPath, listPath, objectPath } from "./api-paths.js";

describe("the path of a list page", () => {
  it("is under /api/v1 for the core group and /apis/<group>/<version> for the others", () => {
    assert.equal(
      listPath("v1", "pods", { limit: 500, continueToken: undefined }),
      "/api/v1/pods?limit=500",
    );
    assert.equal(
      listPath("batch/v1", "jobs", { limit: 500, continueToken: undefined }),
      "/apis/batch/v1/jobs?limit=500",
    );
  });

  it("names its namespace when it has one", () => {
    assert.equal(
      listPath("apps.nebula-graph.io/v1alpha1", "nebularestores", {
        namespace: "team-a",
        limit: 100,
        continueToken: undefined,
      }),
      "/apis/apps.nebula-graph.io/v1alpha1/namespaces/team-a/nebularestores?limit=100",
    );
  });

  it("carries the continue token as the API server gave it, whatever its characters", () => {
    const token = "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzfQ==&watch=true#x/y";
    const path = listPath("batch/v1", "jobs", { limit: 500, continueToken: token });
    const url = new URL(path, "https://api.example");
    assert.equal(url.pathname, "/apis/batch/v1/jobs");
    assert.deepEqual(
      [...url.searchParams],
      [
        ["limit", "500"],
        ["continue", token],
      ],
    );
  });

  it("refuses a namespace no namespace can be named, which would leave its path segment", () => {
    for (const namespace of ["..", ".", "a/b", "../secrets?x=1", "Team-A", "x".repeat(64)])
      assert.throws(
        () => listPath("v1", "pods", { namespace, limit: 1, continueToken: undefined }),
        RangeError,
        namespace,
      );
  });
});

describe("the path of a collection across namespaces, as a watch asks for it", () => {
  it("is under its group's root", () => {
    assert.equal(collectionPath("v1", "secrets"), "/api/v1/secrets");
    assert.equal(
      collectionPath("apps.nebula-graph.io/v1alpha1", "nebulaclusters"),
      "/apis/apps.nebula-graph.io/v1alpha1/nebulaclusters",
    );
  });
});

describe("the path of one namespaced object", () => {
  it("is under its group's root, in its namespace", () => {
    assert.equal(
      objectPath("v1", "secrets", { namespace: "ns-1", name: "aws" }),
      "/api/v1/namespaces/ns-1/secrets/aws",
    );
    assert.equal(
      objectPath("apps.nebula-graph.io/v1alpha1", "nebulabackups", {
        namespace: "ns-1",
        name: "nightly.1",
      }),
      "/apis/apps.nebula-graph.io/v1alpha1/namespaces/ns-1/nebulabackups/nightly.1",
    );
  });

  it("is none for a namespace or name no object can have", () => {
    for (const ref of [
      { namespace: "..", name: "aws" },
      { namespace: "ns-1", name: "a/b" },
      { namespace: "ns-1?x=1", name: "s" },
      { namespace: "ns-1", name: ".." },
    ])
      assert.equal(objectPath("v1", "secrets", ref), undefined, JSON.stringify(ref));
  });
});
