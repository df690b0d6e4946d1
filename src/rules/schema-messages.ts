import type { ErrorObject } from "ajv";

/** Turns ajv's JSON-pointer errors into `spec.br.s3.region: must be string` lines. */
export function describeAjvErrors(
  errors: readonly ErrorObject[] | null | undefined,
  basePath: string,
): string {
  return schemaViolations(errors, basePath)
    .map((v) => `${v.path}: ${v.message}`)
    .join("; ");
}

export function schemaViolations(
  errors: readonly ErrorObject[] | null | undefined,
  basePath: string,
): { path: string; message: string }[] {
  const seen = new Set<string>();
  const out: { path: string; message: string }[] = [];
  for (const error of errors ?? []) {
    const path = fieldPath(basePath, error);
    const message = errorMessage(error);
    const key = `${path}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path, message });
  }
  return out;
}

function fieldPath(basePath: string, error: ErrorObject): string {
  const segments = error.instancePath
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  if (error.keyword === "required") segments.push(String(error.params.missingProperty));
  let path = basePath;
  for (const segment of segments) {
    path = /^\d+$/.test(segment) ? `${path}[${segment}]` : path ? `${path}.${segment}` : segment;
  }
  return path || "(root)";
}

function errorMessage(error: ErrorObject): string {
  switch (error.keyword) {
    case "required":
      return "is required";
    case "additionalProperties":
      return `unknown field "${String(error.params.additionalProperty)}"`;
    case "enum":
      return `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return error.message ?? "is invalid";
  }
}
