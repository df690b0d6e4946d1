import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { imageRunsBrEnt, readContainer } from "./br-invocations.js";

const read = (container: Record<string, unknown>) =>
  readContainer({ name: "c", image: "busybox", ...container }, "containers", 0);

const script = (text: string, extra: Record<string, unknown> = {}) =>
  read({ command: ["/bin/sh", "-ecx", text], ...extra });

const flags = (reading: ReturnType<typeof read>, call = 0) =>
  Object.fromEntries(
    [...(reading.invocations[call]?.flags ?? [])].map(([name, value]) => [
      name,
      value === true ? true : value.text,
    ]),
  );

describe("what counts as BR", () => {
  it("recognises br-ent images with registries, tags and digests", () => {
    for (const image of [
      "vesoft/br-ent:v3.5.0",
      "reg.example.com:5000/team/br-ent:v3.8.0",
      "br-ent",
      "vesoft/br-ent@sha256:abc",
      "mirror.example/vesoft-br-ent:v3.7.0",
      "vesoft/br-ent-tools:v1",
      "vesoft/nebula-br:v3.6.0",
    ])
      assert.ok(imageRunsBrEnt(image), image);
    for (const image of ["br-ent.example.com/busybox:1", "nebula-br-webhook:1"])
      assert.ok(!imageRunsBrEnt(image), image);
  });

  it("is the executable, not a word: our own nebula-br-webhook and a bucket nebula-br-test are not BR", () => {
    assert.equal(
      read({ image: "nebula-br-webhook:0.1", command: ["nebula-br-webhook", "serve"] }).mentionsBr,
      false,
    );
    const upload = script("aws s3 cp /data s3://nebula-br-test/ && echo done");
    assert.equal(upload.mentionsBr, false);
  });

  it("knows br-ent, nebula-br and release binaries such as br-ent-3.7.0-linux-amd64", () => {
    for (const binary of ["br-ent", "/usr/local/bin/nebula-br", "./br-ent-3.7.0-linux-amd64"]) {
      const reading = read({ command: [binary, "backup", "full"] });
      assert.equal(reading.invocations[0]?.verb, "backup", binary);
    }
  });

  it("runs the br-ent image's entrypoint when there is no command", () => {
    const reading = read({
      image: "vesoft/br-ent:v3.7.0",
      args: ["backup", "full", "--storage", "s3://b"],
    });
    assert.equal(reading.invocations[0]?.verb, "backup");
    assert.equal(flags(reading).storage, "s3://b");
  });
});

describe("reading every br-ent call through scripts and wrappers", () => {
  it("reads verb, mode and flags from an sh -c script, keeping unknown $VARS", () => {
    const reading = script(
      "exec /usr/local/bin/br-ent backup incr --base BACKUP_1 --meta=$META_ADDRESS:9559 --storage 's3://b/p'",
    );
    const call = reading.invocations[0];
    assert.equal(call?.form, "shell");
    assert.deepEqual(call?.at, { list: "command", index: 2 });
    assert.equal(call?.verb, "backup");
    assert.equal(call?.mode, "incr");
    assert.deepEqual(flags(reading), {
      base: "BACKUP_1",
      meta: "$META_ADDRESS:9559",
      storage: "s3://b/p",
    });
    const meta = call?.flags.get("meta");
    assert.equal(typeof meta === "object" && meta.resolved, false);
  });

  it("resolves variables from literal env values and from the script itself", () => {
    const reading = script("M=from-script; br-ent backup full --meta $M --storage s3://$B", {
      env: [{ name: "B", value: "bucket" }],
    });
    assert.deepEqual(flags(reading), { meta: "from-script", storage: "s3://bucket" });
  });

  it("reads the kubelet's $(VAR) in command and args, and leaves a valueFrom one unknown", () => {
    const reading = read({
      command: ["br-ent", "backup", "full", "--meta", "$(HOST)", "--storage", "$(BUCKET)"],
      env: [
        { name: "HOST", value: "h:9559" },
        { name: "BUCKET", valueFrom: { configMapKeyRef: { name: "x", key: "y" } } },
      ],
    });
    const meta = reading.invocations[0]?.flags.get("meta");
    const storage = reading.invocations[0]?.flags.get("storage");
    assert.deepEqual(meta !== true && meta?.resolved, true);
    assert.deepEqual(storage !== true && storage?.resolved, false);
  });

  it("finds every call of a chained script, not only the first", () => {
    const reading = script(
      "br-ent version && exec br-ent backup full --storage s3://a; br-ent backup full --storage s3://b\nbr-ent show --storage s3://c",
    );
    assert.deepEqual(
      reading.invocations.map((c) => c.verb),
      ["version", "backup", "backup", "show"],
    );
  });

  it("follows wrappers: exec -a, env, tini --, busybox sh, nice, timeout", () => {
    const forms: string[][] = [
      ["sh", "-c", "exec -a worker br-ent backup full"],
      ["env", "X=1", "br-ent", "backup", "full"],
      ["tini", "--", "br-ent", "backup", "full"],
      ["busybox", "sh", "-c", "br-ent backup full"],
      ["bash", "-o", "pipefail", "-c", "br-ent backup full | tee /tmp/log"],
      ["sh", "+e", "-c", "br-ent backup full"],
      ["sh", "-c", "--", "br-ent backup full"],
      ["env", "X=1", "sh", "-c", "nice -n 5 timeout 3600 br-ent backup full"],
      ["dumb-init", "--", "/bin/bash", "-lc", "if true; then br-ent backup full; fi"],
    ];
    for (const command of forms) {
      const reading = read({ command });
      assert.deepEqual(reading.unreadable, [], command.join(" "));
      assert.equal(reading.invocations[0]?.verb, "backup", command.join(" "));
    }
  });

  it("collects items after the script as strays (the sh -c trap)", () => {
    const reading = read({ command: ["sh", "-ecx", "br-ent backup full", "--storage", "s3://b"] });
    assert.deepEqual(reading.invocations[0]?.strayItems, ["--storage", "s3://b"]);
  });

  it("stops a call's flags at the next shell operator", () => {
    const reading = script("br-ent backup full --storage s3://b && echo --spaces done");
    assert.ok(!reading.invocations[0]?.flags.has("spaces"));
  });

  it("survives command items of the wrong types", () => {
    const reading = readContainer({ name: 3, image: 4, command: [null, 5, {}] }, "containers", 0);
    assert.deepEqual(reading.invocations, []);
    assert.equal(readContainer("not a container", "containers", 0).mentionsBr, false);
  });
});

describe("what cannot be read is said, never guessed", () => {
  const unreadable: [string, Record<string, unknown>][] = [
    ["command substitution", { command: ["sh", "-c", "br-ent backup full --meta $(cat /m)"] }],
    ["a ${VAR:-default} expansion", { command: ["sh", "-c", "br-ent backup full --meta ${M:-x}"] }],
    [
      "an unclosed ${ (which crashed the old parser)",
      { command: ["sh", "-c", "br-ent backup --storage ${SECRET"] },
    ],
    ["an unclosed quote", { command: ["sh", "-c", "br-ent backup full --meta 'h"] }],
    ["eval", { command: ["sh", "-c", "eval br-ent backup full"] }],
    ["python -c", { command: ["python3", "-c", "import os; os.system('br-ent backup full')"] }],
    [
      "a copy of the binary",
      { command: ["sh", "-c", "cp /usr/local/bin/br-ent /tmp/x && /tmp/x backup full"] },
    ],
    [
      "a symlink of the binary",
      { command: ["sh", "-c", "ln -s /usr/local/bin/br-ent /tmp/b; /tmp/b backup full"] },
    ],
    [
      "a script file in the br-ent image",
      { image: "vesoft/br-ent:v3.7.0", command: ["sh", "/scripts/backup.sh"] },
    ],
    [
      "a program named by a variable",
      {
        command: ["sh", "-c", "$BR backup full"],
        env: [
          { name: "BR", valueFrom: {} },
          { name: "X", value: "br-ent" },
        ],
      },
    ],
    [
      "another program in the br-ent image",
      { image: "vesoft/br-ent:v3.7.0", command: ["/tmp/renamed", "backup", "full"] },
    ],
    ["a loop", { command: ["sh", "-c", "for v in backup; do br-ent $v full; done"] }],
  ];
  for (const [what, container] of unreadable) {
    it(`says it cannot read ${what}`, () => {
      const reading = read(container);
      assert.ok(reading.unreadable.length > 0, JSON.stringify(reading));
    });
  }

  it("never repeats the script's words in its reasons", () => {
    const reading = script("br-ent backup --storage ${SECRET-TOKEN-VALUE");
    assert.doesNotMatch(reading.unreadable.join(" "), /SECRET-TOKEN-VALUE/);
  });

  it("marks a verb that comes from a variable", () => {
    const reading = script("br-ent $VERB full", { env: [{ name: "VERB", valueFrom: {} }] });
    assert.equal(reading.invocations[0]?.verbUnknown, true);
  });
});

describe("where --meta goes, for the mutation", () => {
  it("right after the mode of each call of a top-level script", () => {
    const reading = script("br-ent backup full --storage s3://b && echo ok");
    assert.deepEqual(reading.invocations[0]?.metaInsertion, {
      form: "script",
      at: { list: "command", index: 2 },
      offset: "br-ent backup full".length,
    });
  });

  it("after the mode item in the exec form", () => {
    const reading = read({ command: ["br-ent"], args: ["backup", "full", "--storage", "s3://b"] });
    assert.deepEqual(reading.invocations[0]?.metaInsertion, {
      form: "exec",
      at: { list: "args", index: 1 },
    });
  });

  it("nowhere in a nested shell, whose offsets are not the item's", () => {
    const reading = script("sh -c 'br-ent backup full'");
    assert.equal(reading.invocations[0]?.metaInsertion, undefined);
  });
});
