import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { imageRunsBrEnt, insertMetaFlag, readBrInvocation } from "./br-command.js";

describe("reading br-ent command lines", () => {
  it("recognises br-ent images with registries, tags and digests", () => {
    for (const image of [
      "vesoft/br-ent:v3.5.0",
      "reg.example.com:5000/team/br-ent:v3.8.0",
      "br-ent",
      "vesoft/br-ent@sha256:abc",
    ]) {
      assert.ok(imageRunsBrEnt(image), image);
    }
    for (const image of [
      "vesoft/br-ent-tools:v1",
      "vesoft/nebula-metad:v3",
      "br-ent.example.com/busybox:1",
    ]) {
      assert.ok(!imageRunsBrEnt(image), image);
    }
  });

  it("reads verb, mode and flags from an sh -c script, keeping $VARS", () => {
    const inv = readBrInvocation(
      {
        name: "b",
        image: "x",
        command: [
          "/bin/sh",
          "-ecx",
          "exec /usr/local/bin/br-ent backup incr --base BACKUP_1 --meta=$META_ADDRESS:9559 --storage 's3://b/p'",
        ],
      },
      0,
    );
    assert.equal(inv?.form, "shell");
    assert.deepEqual(inv?.script, { list: "command", index: 2 });
    assert.equal(inv?.verb, "backup");
    assert.equal(inv?.mode, "incr");
    assert.deepEqual(Object.fromEntries(inv?.flags ?? []), {
      base: "BACKUP_1",
      meta: "$META_ADDRESS:9559",
      storage: "s3://b/p",
    });
  });

  it("finds the script in args when command is only the shell", () => {
    const inv = readBrInvocation(
      {
        name: "b",
        image: "x",
        command: ["sh", "-c"],
        args: ["br-ent backup full --storage s3://b"],
      },
      0,
    );
    assert.deepEqual(inv?.script, { list: "args", index: 0 });
    assert.equal(inv?.flags.get("storage"), "s3://b");
  });

  it("reads the exec form, where the argv runs br-ent directly", () => {
    const inv = readBrInvocation(
      {
        name: "b",
        image: "x",
        command: ["br-ent"],
        args: ["backup", "full", "--storage", "s3://b"],
      },
      0,
    );
    assert.equal(inv?.form, "exec");
    assert.equal(inv?.mode, "full");
    assert.equal(inv?.flags.get("storage"), "s3://b");
  });

  it("stops reading flags at the next shell operator", () => {
    const inv = readBrInvocation(
      {
        name: "b",
        image: "x",
        command: ["sh", "-c", "br-ent backup full --storage s3://b && echo --spaces done"],
      },
      0,
    );
    assert.ok(!inv?.flags.has("spaces"));
  });

  it("collects items after the script as strays (the sh -c trap)", () => {
    const inv = readBrInvocation(
      {
        name: "b",
        image: "x",
        command: ["sh", "-ecx", "br-ent backup full", "--storage", "s3://b"],
      },
      0,
    );
    assert.deepEqual(inv?.strayItems, ["--storage", "s3://b"]);
  });

  it("survives command items of the wrong types", () => {
    assert.equal(readBrInvocation({ name: 3, image: 4, command: [null, 5, {}] }, 0), undefined);
    assert.equal(readBrInvocation("not a container", 0), undefined);
  });

  it("inserts --meta right after the backup mode, whatever follows", () => {
    assert.equal(
      insertMetaFlag(
        "exec /usr/local/bin/br-ent backup full --storage s3://b && echo ok",
        "h:9559",
      ),
      "exec /usr/local/bin/br-ent backup full --meta h:9559 --storage s3://b && echo ok",
    );
    assert.equal(insertMetaFlag("br-ent backup incr", "h:1"), "br-ent backup incr --meta h:1");
  });
});
