import { readFile } from "node:fs/promises";
import { Ajv } from "ajv";
import { parse as parseYaml } from "yaml";
import configSchema from "../../schemas/config.schema.json" with { type: "json" };
import type { RuleMode } from "../rules/rule.js";
import { describeAjvErrors } from "../rules/schema-messages.js";

export interface Config {
  readonly imagePullSecret?: string;
  readonly clusterDomain: string;
  readonly defaultConcurrency: number;
  /** The operator has storage credentials of its own: `secretName` is optional on spec.config objects. */
  readonly operatorCredentials: boolean;
  readonly exemptNamespaces: readonly string[];
  /** Namespace pairs where a hand-written BR workload may act on another namespace's cluster. */
  readonly crossNamespace: readonly { readonly from: string; readonly to: string }[];
  readonly rules: Readonly<Record<string, RuleMode>>;
  readonly failOpen: readonly string[];
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; reason: string };

const validate = new Ajv({ useDefaults: true, allErrors: true }).compile<Config>(configSchema);

/** Validates a parsed configuration and fills in the defaults. */
export function parseConfig(raw: unknown): ConfigResult {
  const candidate = structuredClone(raw ?? {});
  if (!validate(candidate)) {
    return {
      ok: false,
      reason: `invalid configuration: ${describeAjvErrors(validate.errors, "")}`,
    };
  }
  return { ok: true, config: candidate };
}

export async function loadConfig(file: string | undefined): Promise<ConfigResult> {
  if (!file) return parseConfig({});
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    return { ok: false, reason: `cannot read configuration ${file}: ${(error as Error).message}` };
  }
  try {
    return parseConfig(parseYaml(text));
  } catch (error) {
    return { ok: false, reason: `configuration ${file} is not YAML: ${(error as Error).message}` };
  }
}

export const defaultConfig: Config = (() => {
  const result = parseConfig({});
  if (!result.ok) throw new Error(result.reason);
  return result.config;
})();
