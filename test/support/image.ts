/**
 * The webhook's OCI image, for the tests that run it as a cluster would: built (or reused) by
 * image/build.sh as `make image` builds it, the filesystem of this machine's platform unpacked
 * once from the oci-archive (skopeo + umoci) under dist/image/rootfs/, and run with
 * `chroot --userspec=UID:GID` with the image's own entrypoint, user and environment.
 * chroot needs root: `imageUnavailable()` says why the image cannot be run here, for a skip.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./fixtures.js";
import { post } from "./https-client.js";
import { answering, freePort } from "./serve-process.js";

export const IMAGE_DIR = join(REPO_ROOT, "dist/image");
export const IMAGE_ARCHIVE = join(IMAGE_DIR, "nebula-br-webhook.oci.tar");
export const IMAGE_SBOM = join(IMAGE_DIR, "nebula-br-webhook.spdx.json");

/** The parts of an OCI image config (config.json blob) that decide how the image runs. */
export interface ImageConfig {
  readonly architecture: string;
  readonly os: string;
  readonly config: {
    readonly User?: string;
    readonly Entrypoint?: string[];
    readonly Cmd?: string[];
    readonly Env?: string[];
    readonly WorkingDir?: string;
    readonly Labels?: Record<string, string>;
  };
}

export interface ImageRootfs {
  /** The unpacked filesystem of this machine's platform. */
  readonly rootfs: string;
  /** The image config of that platform. */
  readonly config: ImageConfig;
  /** The uid and gid the image runs as (its config's User). */
  readonly uid: number;
  readonly gid: number;
  /** Runs the webhook from the image: chroot as the image's user, then its entrypoint. */
  readonly command: readonly string[];
  /** The image's environment, as a container runtime would set it. */
  readonly env: Record<string, string>;
}

const CHROOT = ["/usr/sbin/chroot", "/usr/bin/chroot"].find((path) => existsSync(path));

/** The image's platforms, by Node.js's name for the CPU. */
export type Platform = "amd64" | "arm64";
const PLATFORM: Record<string, Platform> = { x64: "amd64", arm64: "arm64" };

function onPath(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status === 0;
}

/** Why the image cannot be built and run on this machine, or undefined when it can. */
export function imageUnavailable(): string | undefined {
  if (process.platform !== "linux") return "the image runs on Linux";
  if (!PLATFORM[process.arch]) return `the image has no platform for ${process.arch}`;
  if (process.getuid?.() !== 0) return "running the image with chroot needs root";
  if (!CHROOT) return "chroot is missing";
  for (const tool of ["umoci", "skopeo", "apt-get", "dpkg-deb"]) {
    if (!onPath(tool)) return `${tool} is missing (apt-get install -y umoci skopeo)`;
  }
  return undefined;
}

function run(command: string, args: readonly string[], timeoutMs: number): void {
  const result = spawnSync(command, args, {
    cwd: REPO_ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: timeoutMs,
  });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${result.status ?? result.signal}): ${result.stderr}${result.stdout}`,
    );
  }
}

interface BuildInfo {
  readonly platforms: Record<string, { readonly manifest: string }>;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

/** The config blob of the one image in an OCI layout holding a single manifest. */
function layoutConfig(layout: string): ImageConfig {
  const blob = <T>(digest: string) => readJson<T>(join(layout, "blobs", ...digest.split(":")));
  const [entry] = readJson<{ manifests: { digest: string }[] }>(
    join(layout, "index.json"),
  ).manifests;
  if (!entry) throw new Error(`${layout} holds no image`);
  const manifest = blob<{ config: { digest: string } }>(entry.digest);
  return blob<ImageConfig>(manifest.config.digest);
}

function unpack(target: string, platform: Platform): void {
  const parent = join(IMAGE_DIR, "rootfs");
  mkdirSync(parent, { recursive: true });
  const partial = mkdtempSync(join(parent, ".unpack-"));
  try {
    run(
      "skopeo",
      [
        "copy",
        "--quiet",
        `--override-arch=${platform}`,
        `oci-archive:${IMAGE_ARCHIVE}`,
        `oci:${partial}/oci:image`,
      ],
      300_000,
    );
    run("umoci", ["unpack", "--image", `${partial}/oci:image`, `${partial}/bundle`], 300_000);
    writeFileSync(
      join(partial, "image-config.json"),
      JSON.stringify(layoutConfig(`${partial}/oci`)),
    );
    rmSync(join(partial, "oci"), { recursive: true, force: true });
    // Only the current build's filesystems are kept.
    const current = readJson<BuildInfo>(join(IMAGE_DIR, "build-info.json"));
    const keep = Object.values(current.platforms).map((image) => unpackedName(image.manifest));
    for (const old of readdirSync(parent)) {
      if (!old.startsWith(".") && !keep.includes(old)) {
        rmSync(join(parent, old), { recursive: true, force: true });
      }
    }
    renameSync(partial, target);
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
}

const unpackedName = (manifest: string) => manifest.replace(/^sha256:/, "").slice(0, 16);

let built = false;
const cached = new Map<Platform, ImageRootfs>();

/**
 * Builds the image (image/build.sh reuses the archive when nothing changed), unpacks one
 * platform's filesystem (this machine's unless said) once per build, and says how to run the
 * webhook from it. Another platform's needs an emulator to run (see image.test.ts).
 */
export function imageRootfs(platform: Platform = PLATFORM[process.arch] as Platform): ImageRootfs {
  const known = cached.get(platform);
  if (known) return known;
  const reason = imageUnavailable();
  if (reason) throw new Error(`the image cannot run here: ${reason}`);
  if (!built) run("bash", ["image/build.sh"], 20 * 60 * 1000);
  built = true;
  const image = readJson<BuildInfo>(join(IMAGE_DIR, "build-info.json")).platforms[platform];
  if (!image) throw new Error(`dist/image/build-info.json has no linux/${platform} image`);
  const dir = join(IMAGE_DIR, "rootfs", unpackedName(image.manifest));
  if (!existsSync(join(dir, "image-config.json"))) unpack(dir, platform);
  const config = readJson<ImageConfig>(join(dir, "image-config.json"));
  const [uid, gid] = (config.config.User ?? "0:0").split(":").map(Number);
  const env: Record<string, string> = { HOME: "/home/nonroot" };
  for (const entry of config.config.Env ?? []) {
    env[entry.slice(0, entry.indexOf("="))] = entry.slice(entry.indexOf("=") + 1);
  }
  const rootfs = join(dir, "bundle", "rootfs");
  const result: ImageRootfs = {
    rootfs,
    config,
    uid: uid ?? 0,
    gid: gid ?? uid ?? 0,
    command: [
      CHROOT as string,
      `--userspec=${uid}:${gid}`,
      rootfs,
      ...(config.config.Entrypoint ?? []),
    ],
    env,
  };
  cached.set(platform, result);
  return result;
}

/** A directory inside the image's /tmp that its user owns: `host` from here, `inImage` inside. */
export interface ImageScratch {
  readonly host: string;
  readonly inImage: string;
  /** Copies a file in, readable by the image's user; returns its path inside the image. */
  put(name: string, content: string | Buffer, mode?: number): string;
  remove(): void;
}

export function imageScratch(image: ImageRootfs): ImageScratch {
  const host = mkdtempSync(join(image.rootfs, "tmp", "nbw-"));
  chownSync(host, image.uid, image.gid);
  const inImage = `/${host.slice(image.rootfs.length + 1)}`;
  return {
    host,
    inImage,
    put(name, content, mode = 0o644) {
      writeFileSync(join(host, name), content, { mode });
      return `${inImage}/${name}`;
    },
    remove() {
      rmSync(host, { recursive: true, force: true });
    },
  };
}

/** Runs the image's entrypoint with these arguments to the end (`check`, `review`). */
export function runImage(
  image: ImageRootfs,
  args: readonly string[],
  input?: string,
): { status: number | null; stdout: string; stderr: string } {
  const [command, ...prefix] = image.command;
  const result = spawnSync(command as string, [...prefix, ...args], {
    env: image.env,
    encoding: "utf8",
    input,
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export interface ImageWebhook {
  readonly port: number;
  readonly ca: string;
  readonly process: ChildProcess;
  readonly logFile: string;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/**
 * Runs `serve` from the image (as the Deployment's args do), writing its CA into a scratch
 * directory, and waits until /readyz answers 200 over HTTPS.
 */
export async function startImageWebhook(
  image: ImageRootfs,
  scratch: ImageScratch,
  args: readonly string[] = [],
  options: { port?: number; logDir?: string } = {},
): Promise<ImageWebhook> {
  const port = options.port ?? (await freePort());
  const logFile = join(options.logDir ?? scratch.host, `image-webhook-${port}-${Date.now()}.log`);
  const caName = `ca-${port}.pem`;
  const [command, ...prefix] = image.command;
  const child = spawn(
    command as string,
    [
      ...prefix,
      "serve",
      "--port",
      String(port),
      "--ca-out",
      `${scratch.inImage}/${caName}`,
      ...args,
    ],
    { env: image.env, stdio: ["ignore", "pipe", "pipe"] },
  );
  const started = await answering(child, {
    name: "the image's webhook",
    logFile,
    caFile: join(scratch.host, caName),
    probe: "/readyz",
    ask: (ca) => post(port, ca, "/readyz", undefined, { method: "GET" }),
  });
  return { port, process: child, logFile, ...started };
}
