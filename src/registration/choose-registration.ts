import { readFile } from "node:fs/promises";
import type { CaResult, Registration } from "./registrar.js";
import type { WebhookEndpoint } from "./webhooks.js";

export interface RegistrationChoice {
  readonly registerWebhooks?: boolean;
  readonly webhookConfiguration?: string;
  readonly webhookUrl?: string;
  readonly serviceName: string;
  readonly serviceNamespace: string;
  readonly servicePort: number;
  readonly failurePolicy: string;
  readonly webhookTimeout: number;
}

export type RegistrationResult =
  | { ok: true; registration: Registration | undefined }
  | { ok: false; reason: string };

/**
 * `--register-webhooks`: the whole webhooks, pointed at the Service (or `--webhook-url`),
 * excluding `exemptNamespaces`; else with `--webhook-configuration` alone, only the CA into
 * whatever webhooks are there; else nothing is written.
 */
export function chooseRegistration(
  choice: RegistrationChoice,
  exemptNamespaces: readonly string[],
): RegistrationResult {
  if (!choice.registerWebhooks) {
    if (choice.webhookUrl !== undefined)
      return { ok: false, reason: "--webhook-url is only used with --register-webhooks" };
    return {
      ok: true,
      registration: choice.webhookConfiguration
        ? { kind: "ca-bundle", configurationName: choice.webhookConfiguration }
        : undefined,
    };
  }
  if (!choice.webhookConfiguration)
    return {
      ok: false,
      reason:
        "--register-webhooks needs --webhook-configuration NAME: the validating and mutating configurations the install ships, which it fills in",
    };
  if (choice.failurePolicy !== "Fail" && choice.failurePolicy !== "Ignore")
    return { ok: false, reason: "--failure-policy must be Fail or Ignore" };
  if (choice.webhookTimeout < 1 || choice.webhookTimeout > 30)
    return {
      ok: false,
      reason: "--webhook-timeout must be 1 to 30 seconds (the API server's range)",
    };
  const endpoint = webhookEndpoint(choice);
  if (!endpoint.ok) return endpoint;
  return {
    ok: true,
    registration: {
      kind: "register",
      settings: {
        configurationName: choice.webhookConfiguration,
        endpoint: endpoint.endpoint,
        failurePolicy: choice.failurePolicy,
        timeoutSeconds: choice.webhookTimeout,
        exemptNamespaces,
      },
    },
  };
}

function webhookEndpoint(
  choice: RegistrationChoice,
): { ok: true; endpoint: WebhookEndpoint } | { ok: false; reason: string } {
  if (choice.webhookUrl === undefined)
    return {
      ok: true,
      endpoint: {
        service: {
          name: choice.serviceName,
          namespace: choice.serviceNamespace,
          port: choice.servicePort,
        },
      },
    };
  let url: URL;
  try {
    url = new URL(choice.webhookUrl);
  } catch {
    return { ok: false, reason: `--webhook-url ${choice.webhookUrl} is not a URL` };
  }
  if (url.protocol !== "https:" || url.username || url.password || url.search || url.hash)
    return {
      ok: false,
      reason: `--webhook-url ${choice.webhookUrl}: give https://host:port (the API server calls only HTTPS; /validate and /mutate are added)`,
    };
  if (url.pathname !== "/")
    return {
      ok: false,
      reason: `--webhook-url ${choice.webhookUrl}: leave out the path, /validate and /mutate are added`,
    };
  return { ok: true, endpoint: { url: `https://${url.host}` } };
}

/** The exempt namespaces of the configuration, and always the webhook's own. */
export function withOwnNamespace(exempt: readonly string[], namespace: string): string[] {
  return exempt.includes(namespace) ? [...exempt] : [...exempt, namespace];
}

/**
 * The CA for the caBundle: `--ca-file` (read again at each check, as cert-manager renews
 * it), else the one the webhook made (generated or self-managed), else none.
 */
export function caSource(
  caFile: string | undefined,
  ownCa: () => string | undefined,
): () => Promise<CaResult> {
  if (!caFile) return async () => ({ ok: true, pem: ownCa() });
  return async () => {
    try {
      const pem = await readFile(caFile, "utf8");
      if (!pem.includes("-----BEGIN CERTIFICATE-----"))
        return { ok: false, reason: `--ca-file ${caFile} holds no PEM certificate` };
      return { ok: true, pem };
    } catch (error) {
      return { ok: false, reason: `cannot read --ca-file ${caFile}: ${(error as Error).message}` };
    }
  };
}
