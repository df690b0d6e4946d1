// The JSON steps of image/build.sh, run with the machine's Node:
//   node image/oci.mjs index LAYOUT TAG LABEL=VALUE...   one image index over the per-arch images
//   node image/oci.mjs sbom NPM_SPDX COMPONENTS CREATED KEY  npm's SBOM plus Node.js and the .debs
//   node image/oci.mjs info LAYOUT ARCHIVE KEY SECONDS WORK  build-info.json
//   node image/oci.mjs summary BUILD_INFO                 the lines `make image` ends with
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const INDEX = "application/vnd.oci.image.index.v1+json";
const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const REF_NAME = "org.opencontainers.image.ref.name";

const readJson = (path) => JSON.parse(readFileSync(path, "utf8"));
const blobPath = (layout, digest) => join(layout, "blobs", ...digest.split(":"));
const blob = (layout, digest) => readJson(blobPath(layout, digest));

/** Replaces the layout's per-architecture tags with one image index, tagged TAG. */
function index(layout, tag, labels) {
  const top = readJson(join(layout, "index.json"));
  const manifests = top.manifests.map((entry) => {
    const manifest = blob(layout, entry.digest);
    const config = blob(layout, manifest.config.digest);
    const platform = { architecture: config.architecture, os: config.os };
    if (config.architecture === "arm64") platform.variant = "v8";
    return { mediaType: MANIFEST, digest: entry.digest, size: entry.size, platform };
  });
  const annotations = Object.fromEntries(
    labels.map((label) => [label.slice(0, label.indexOf("=")), label.slice(label.indexOf("=") + 1)]),
  );
  const body = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests, annotations }),
  );
  const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
  writeFileSync(blobPath(layout, digest), body);
  top.manifests = [
    { mediaType: INDEX, digest, size: body.length, annotations: { [REF_NAME]: tag } },
  ];
  writeFileSync(join(layout, "index.json"), JSON.stringify(top));
}

/** Adds what npm does not know about (Node.js, the Debian packages) to npm's SPDX document. */
function sbom(npmSpdx, componentsFile, created, key) {
  const document = readJson(npmSpdx);
  const root = document.documentDescribes[0];
  document.name = `${document.name} (OCI image)`;
  document.documentNamespace = `https://spdx.org/spdxdocs/nebula-br-webhook-image-${key}`;
  document.creationInfo.created = created;
  for (const line of readFileSync(componentsFile, "utf8").split("\n")) {
    const [kind, name, version, arch] = line.trim().split(/\s+/);
    if (!kind || !name || !version) continue;
    const purl =
      kind === "deb"
        ? `pkg:deb/debian/${name}@${encodeURIComponent(version)}?arch=${arch}&distro=debian-12`
        : `pkg:npm/${name}@${version}`;
    const id = `SPDXRef-${kind}-${name}-${version}-${arch}`.replace(/[^A-Za-z0-9.-]/g, "-");
    document.packages.push({
      name,
      SPDXID: id,
      versionInfo: version,
      packageFileName: "",
      description:
        kind === "deb" ? `Debian 12 package (${arch})` : `Node.js runtime for ${arch} (npm)`,
      downloadLocation: "NOASSERTION",
      filesAnalyzed: false,
      licenseDeclared: "NOASSERTION",
      externalRefs: [
        { referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: purl },
      ],
    });
    document.relationships.push({
      spdxElementId: id,
      relatedSpdxElement: root,
      relationshipType: "RUNTIME_DEPENDENCY_OF",
    });
  }
  process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
}

/** Bytes of the files under a directory, as the unpacked filesystem holds them. */
function treeBytes(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += treeBytes(path);
    else total += lstatSync(path).size;
  }
  return total;
}

function info(layout, archive, key, seconds, work) {
  const [top] = readJson(join(layout, "index.json")).manifests;
  const imageIndex = blob(layout, top.digest);
  const platforms = {};
  for (const entry of imageIndex.manifests) {
    const manifest = blob(layout, entry.digest);
    const arch = entry.platform.architecture;
    const layers = manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
    platforms[arch] = {
      manifest: entry.digest,
      compressedBytes: layers + manifest.config.size + entry.size,
      unpackedBytes: ["base", "node"]
        .map((part) => treeBytes(join(work, `${part}-${arch}`)))
        .reduce((sum, bytes) => sum + bytes, treeBytes(join(work, "app"))),
    };
  }
  const annotations = imageIndex.annotations ?? {};
  const result = {
    archive,
    archiveBytes: statSync(archive).size,
    index: top.digest,
    version: annotations["org.opencontainers.image.version"],
    revision: annotations["org.opencontainers.image.revision"],
    platforms,
    buildSeconds: Number(seconds),
    inputs: key,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

function summary(buildInfo) {
  const result = readJson(buildInfo);
  const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
  console.log(`image: ${result.archive} (${mb(result.archiveBytes)}), index ${result.index}`);
  for (const [arch, platform] of Object.entries(result.platforms)) {
    console.log(
      `  linux/${arch}: ${mb(platform.compressedBytes)} compressed, ${mb(platform.unpackedBytes)} unpacked`,
    );
  }
  console.log(`built in ${result.buildSeconds} s`);
}

const [command, ...args] = process.argv.slice(2);
if (command === "index") index(args[0], args[1], args.slice(2));
else if (command === "sbom") sbom(args[0], args[1], args[2], args[3]);
else if (command === "info") info(args[0], args[1], args[2], args[3], args[4]);
else if (command === "summary") summary(args[0]);
else {
  console.error(`image/oci.mjs: unknown command ${command}`);
  process.exit(2);
}
