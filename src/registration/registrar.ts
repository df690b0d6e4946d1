import type { V1MutatingWebhook, V1ValidatingWebhook } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { describeApiError } from "../kube/api-errors.js";
import type {
  ConfigurationKind,
  ConfigurationStore,
  WebhookConfiguration,
} from "./configuration-store.js";
import {
  renderWebhookConfigurations,
  WEBHOOK_NAME_SUFFIX,
  type WebhookSettings,
} from "./webhooks.js";

/** What the webhook writes into its two configurations. */
export type Registration =
  /** The whole list of webhooks, from the template (`serve --register-webhooks`). */
  | { readonly kind: "register"; readonly settings: Omit<WebhookSettings, "caPem"> }
  /** Only the CA, into the caBundle of whatever webhooks are there (registered by someone else). */
  | { readonly kind: "ca-bundle"; readonly configurationName: string };

/** The CA the API server is to trust; `pem` undefined: none (leave the caBundle alone). */
export type CaResult = { ok: true; pem: string | undefined } | { ok: false; reason: string };

/** Whether this replica can answer the API server yet, and if not, what it waits for. */
export type Readiness = { ready: true } | { ready: false; waitingFor: string };

export interface RegistrarOptions {
  readonly registration: Registration;
  readonly store: ConfigurationStore;
  readonly logger: Logger;
  /** Read at every check, so that a renewed CA is written within one interval. */
  readonly caPem: () => Promise<CaResult>;
  /** Asked until it says ready; only then is anything written. */
  readonly ready: () => Promise<Readiness>;
  /** How often the configurations are checked for drift once registered. */
  readonly intervalMs: number;
  /** How often readiness is asked before the first registration. */
  readonly readyPollMs?: number;
}

/** What one check found for one configuration. */
export type CheckOutcome =
  | { readonly state: "absent" }
  | { readonly state: "in-sync" }
  | { readonly state: "written"; readonly why: string }
  | { readonly state: "failed"; readonly reason: string };

type Webhook = V1MutatingWebhook | V1ValidatingWebhook;

const KINDS: readonly ConfigurationKind[] = [
  "ValidatingWebhookConfiguration",
  "MutatingWebhookConfiguration",
];

/**
 * The one writer of the webhook configurations. Once this replica is ready it fills them in
 * (server-side apply, field manager nebula-br-webhook, force), then checks them every
 * interval and writes again when they drifted or were reset. It never creates one: a
 * configuration that is absent was never installed or was uninstalled, and stays absent.
 */
export class WebhookRegistrar {
  private stopped = false;
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private readonly lastReported = new Map<ConfigurationKind, string>();

  constructor(private readonly options: RegistrarOptions) {}

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
  }

  private async run(): Promise<void> {
    let waitingFor: string | undefined;
    while (!this.stopped) {
      const readiness = await this.options
        .ready()
        .catch(
          (error: unknown): Readiness => ({ ready: false, waitingFor: describeApiError(error) }),
        );
      if (readiness.ready) break;
      if (readiness.waitingFor !== waitingFor) {
        waitingFor = readiness.waitingFor;
        this.options.logger.info({ waitingFor }, "webhook registration waits for this replica");
      }
      await this.sleep(this.options.readyPollMs ?? 1000);
    }
    while (!this.stopped) {
      await this.checkOnce();
      await this.sleep(this.options.intervalMs);
    }
  }

  /** One pass over both configurations: what it found and did with each. */
  async checkOnce(): Promise<Record<ConfigurationKind, CheckOutcome>> {
    const ca = await this.options.caPem();
    const outcomes = {} as Record<ConfigurationKind, CheckOutcome>;
    for (const kind of KINDS) {
      const outcome: CheckOutcome = ca.ok
        ? await this.checkKind(kind, ca.pem)
        : { state: "failed", reason: ca.reason };
      outcomes[kind] = outcome;
      this.report(kind, outcome);
    }
    return outcomes;
  }

  private get configurationName(): string {
    const { registration } = this.options;
    return registration.kind === "register"
      ? registration.settings.configurationName
      : registration.configurationName;
  }

  /** Reads, compares, writes; after a conflict (changed meanwhile) reads again, twice at most. */
  private async checkKind(
    kind: ConfigurationKind,
    caPem: string | undefined,
  ): Promise<CheckOutcome> {
    const { registration, store } = this.options;
    for (let attempt = 0; ; attempt++) {
      const read = await store.read(kind, this.configurationName);
      if (read.state === "absent") return { state: "absent" };
      if (read.state === "error") return { state: "failed", reason: read.reason };
      const change =
        registration.kind === "register"
          ? registrationChange(kind, read.configuration, { ...registration.settings, caPem })
          : caBundleChange(read.configuration, caPem);
      if (!change) return { state: "in-sync" };
      const written =
        registration.kind === "register"
          ? await store.apply(kind, change.configuration)
          : await store.replace(kind, change.configuration);
      if (written.ok) return { state: "written", why: change.why };
      if (!written.conflict || attempt >= 2) return { state: "failed", reason: written.reason };
    }
  }

  /** Logs every write, anything else only when it differs from the last check. */
  private report(kind: ConfigurationKind, outcome: CheckOutcome): void {
    const { logger } = this.options;
    const fields = { webhookConfiguration: `${kind}/${this.configurationName}` };
    const key = outcome.state === "failed" ? `failed:${outcome.reason}` : outcome.state;
    const changed = this.lastReported.get(kind) !== key;
    this.lastReported.set(kind, key);
    if (outcome.state === "written") {
      logger.info({ ...fields, why: outcome.why }, "webhooks written");
    } else if (changed && outcome.state === "absent") {
      logger.warn(
        fields,
        `not found: not creating it (the install ships it, an uninstall removes it); checking again every ${Math.round(this.options.intervalMs / 1000)} s`,
      );
    } else if (changed && outcome.state === "failed") {
      logger.warn({ ...fields, reason: outcome.reason }, "webhook registration failed");
    } else if (changed) {
      logger.info(fields, "webhooks up to date");
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wake = done;
    });
  }
}

interface Change {
  readonly configuration: WebhookConfiguration;
  readonly why: string;
}

/** The apply that brings `live` back to the template, or undefined when it matches. */
function registrationChange(
  kind: ConfigurationKind,
  live: WebhookConfiguration,
  settings: WebhookSettings,
): Change | undefined {
  const rendered = renderWebhookConfigurations(settings);
  const desired = kind === "MutatingWebhookConfiguration" ? rendered.mutating : rendered.validating;
  const why = driftOf(desired.webhooks ?? [], live.webhooks ?? []);
  if (!why) return undefined;
  const configuration = {
    apiVersion: desired.apiVersion,
    kind: desired.kind,
    // The live uid makes the apply fail (409) instead of creating a configuration that was
    // deleted since it was read.
    metadata: { name: settings.configurationName, uid: live.metadata?.uid },
    webhooks: desired.webhooks,
  } as WebhookConfiguration;
  return { configuration, why };
}

/** `live` with the CA in the caBundle of every webhook, or undefined when it is there. */
function caBundleChange(live: WebhookConfiguration, caPem: string | undefined): Change | undefined {
  if (caPem === undefined) return undefined;
  const caBundle = Buffer.from(caPem).toString("base64");
  const stale = (live.webhooks ?? []).filter((w) => w.clientConfig.caBundle !== caBundle);
  if (stale.length === 0) return undefined;
  for (const webhook of stale) webhook.clientConfig.caBundle = caBundle;
  return { configuration: live, why: `caBundle of ${names(stale)}` };
}

/**
 * Why the live webhooks are not what the template says, or undefined when they are: every
 * field the template sets must hold the same value (the API server adds defaults of its own,
 * which are left alone), and no webhook of ours may be missing or left over.
 */
export function driftOf(desired: readonly Webhook[], live: readonly Webhook[]): string | undefined {
  if (live.length === 0) return "no webhooks registered";
  const liveByName = new Map(live.map((webhook) => [webhook.name, webhook]));
  const desiredNames = new Set(desired.map((webhook) => webhook.name));
  const missing = desired.filter((webhook) => !liveByName.has(webhook.name));
  const changed = desired.filter((webhook) => {
    const current = liveByName.get(webhook.name);
    return current && !contains(current, webhook);
  });
  const leftOver = live.filter(
    (webhook) => webhook.name.endsWith(WEBHOOK_NAME_SUFFIX) && !desiredNames.has(webhook.name),
  );
  const parts = [
    missing.length > 0 ? `missing ${names(missing)}` : "",
    changed.length > 0 ? `changed ${names(changed)}` : "",
    leftOver.length > 0 ? `left over ${names(leftOver)}` : "",
  ].filter(Boolean);
  return parts.length > 0 ? parts.join("; ") : undefined;
}

const names = (webhooks: readonly Webhook[]) => webhooks.map((webhook) => webhook.name).join(", ");

/** `actual` has every field `expected` has, with the same value; lists match item by item. */
function contains(actual: unknown, expected: unknown): boolean {
  if (Array.isArray(expected))
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((item, i) => contains(actual[i], item))
    );
  if (expected !== null && typeof expected === "object") {
    if (actual === null || typeof actual !== "object") return false;
    return Object.entries(expected).every(
      ([key, value]) =>
        value === undefined || contains((actual as Record<string, unknown>)[key], value),
    );
  }
  return actual === expected;
}
