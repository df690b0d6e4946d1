import type { Operation as PatchOperation } from "fast-json-patch";
import type { ClusterSnapshot } from "../cluster-view/cluster-view.js";
import type { Config } from "../config/config.js";
import type { KubeObject } from "../kube/objects.js";

/** How a rule's findings are acted on; set per rule in the configuration. */
export type RuleMode = "enforce" | "warn" | "audit" | "off";

export type AdmissionOperation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";

/** Everything a rule may look at. Rules read it; they never perform I/O. */
export interface RuleContext {
  readonly object: KubeObject;
  readonly oldObject: KubeObject | undefined;
  readonly operation: AdmissionOperation;
  /** The namespace the object lives in (from the request, else its metadata). */
  readonly namespace: string;
  readonly cluster: ClusterSnapshot;
  readonly config: Config;
}

/** A rule found the object breaks it. `path` is the field the user should look at. */
export interface Violation {
  readonly type: "violation";
  readonly path: string;
  readonly message: string;
  /** The rule could not look something up (API server down, cache not synced): see `failOpen`. */
  readonly unverified?: boolean;
}

/**
 * A rule wants the object completed. `apply` edits a private draft copy; the combined edits
 * become one minimal JSON Patch, so rules never hand-build patch paths.
 */
export interface Mutation {
  readonly type: "mutation";
  readonly path: string;
  readonly message: string;
  readonly apply: (draft: KubeObject) => void;
}

export type Finding = Violation | Mutation;

export interface Rule {
  /** Stable id: shown in messages, metrics, reports and used as the config key. */
  readonly id: string;
  readonly description: string;
  readonly defaultMode: RuleMode;
  /**
   * The part of the object this rule judges. On UPDATE a rule whose part is unchanged is not
   * run: pausing a cron backup or labelling a restore is never blocked by a lookup.
   * Rules without it run on every operation their family checks.
   */
  readonly reads?: (object: KubeObject) => unknown;
  /**
   * The rule may complete the object (return mutations). Only these run at /mutate, where
   * judgements are not acted on; a rule without it that returns a mutation is a bug, and
   * `evaluateFamily` reports it as one.
   */
  readonly completes?: boolean;
  /**
   * False for a rule that only completes objects and never judges them: /validate, which acts
   * on judgements alone, skips it (the audit still runs it, to say what /mutate would add).
   */
  readonly judges?: boolean;
  readonly evaluate: (ctx: RuleContext) => readonly Finding[];
}

/** One kind of object and the rules that guard it. */
export interface RuleFamily {
  readonly name: string;
  /** True when this family guards the object (e.g. a Job that runs br-ent). Must be cheap. */
  readonly matches: (object: KubeObject, group: string, kind: string) => boolean;
  /** Which operations the family checks: others are allowed untouched. */
  readonly operations: readonly AdmissionOperation[];
  /** Secrets the rules will look up on this operation, fetched before the rules run. */
  readonly secretsNeeded: (
    object: KubeObject,
    namespace: string,
    operation: AdmissionOperation,
    oldObject: KubeObject | undefined,
  ) => readonly SecretRef[];
  /** NebulaBackups the rules will look up (an operator Job's owner), fetched like Secrets. */
  readonly nebulaBackupsNeeded?: (
    object: KubeObject,
    namespace: string,
    config: Config,
  ) => readonly SecretRef[];
  readonly rules: readonly Rule[];
}

export interface SecretRef {
  readonly namespace: string;
  readonly name: string;
}

/** The result of one rule on one object: the unit of reports, metrics and messages. */
export interface RuleResult {
  readonly rule: Rule;
  readonly mode: RuleMode;
  readonly findings: readonly Finding[];
}

export type { PatchOperation };

export const violation = (path: string, message: string): Violation => ({
  type: "violation",
  path,
  message,
});

/** The rule could not check: denied by default (fail closed), allowed for rules in `failOpen`. */
export const unverified = (path: string, message: string): Violation => ({
  type: "violation",
  path,
  message,
  unverified: true,
});

export const mutation = (
  path: string,
  message: string,
  apply: (draft: KubeObject) => void,
): Mutation => ({ type: "mutation", path, message, apply });
