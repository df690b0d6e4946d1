import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { isObject, type KubeObject } from "./objects.js";

export type ManifestResult =
  | { ok: true; objects: { source: string; object: KubeObject }[] }
  | { ok: false; reason: string };

/** Parses a YAML (or JSON) stream into objects, unwrapping `kind: List`. */
export function parseManifests(text: string, source: string): ManifestResult {
  const objects: { source: string; object: KubeObject }[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) {
      return { ok: false, reason: `${source}: ${document.errors[0]?.message ?? "invalid YAML"}` };
    }
    const value: unknown = document.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) continue;
    if (!isObject(value)) return { ok: false, reason: `${source}: a document is not an object` };
    const items = value.kind === "List" && Array.isArray(value.items) ? value.items : [value];
    for (const item of items)
      if (isObject(item)) objects.push({ source, object: item as KubeObject });
  }
  return { ok: true, objects };
}

/** Reads files, and YAML/JSON files inside directories (recursively), in name order. */
export async function readManifests(paths: readonly string[]): Promise<ManifestResult> {
  const all: { source: string; object: KubeObject }[] = [];
  for (const path of paths) {
    let files: string[];
    try {
      files = await manifestFiles(path);
    } catch (error) {
      return {
        ok: false,
        reason: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      };
    }
    for (const file of files) {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (error) {
        return {
          ok: false,
          reason: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        };
      }
      const parsed = parseManifests(text, file);
      if (!parsed.ok) return parsed;
      all.push(...parsed.objects);
    }
  }
  return { ok: true, objects: all };
}

async function manifestFiles(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const entries = await readdir(path, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) files.push(...(await manifestFiles(full)));
    else if (/\.(ya?ml|json)$/.test(entry.name)) files.push(full);
  }
  return files;
}
