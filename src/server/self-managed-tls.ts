import { CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { apiClient } from "../kube/api-client.js";
import { describeApiError, statusCode } from "../kube/api-errors.js";
import {
  type CertificatePair,
  certificateNotAfter,
  generateCa,
  issueServingCertificate,
} from "./certificates.js";

export interface SelfManagedTlsOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  readonly namespace: string;
  /** The Secret all replicas share: ca.crt, ca.key, tls.crt, tls.key. */
  readonly secretName: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly servingValidDays?: number;
  readonly caValidDays?: number;
  /** Renew the serving certificate when less than this is left. */
  readonly renewBeforeDays?: number;
}

export type TlsMaterial =
  | { ok: true; serving: CertificatePair; caBundle: string }
  | { ok: false; reason: string };

const DAY_MS = 24 * 3600 * 1000;

/**
 * Self-managed certificates: one CA and serving certificate in a Secret shared by every
 * replica (the first creates it; a conflict means another replica won, so read theirs),
 * renewed before expiry with the same CA so the caBundle stays valid. The CA reaches the
 * webhook configurations through the registrar (src/registration/), their one writer.
 */
export class SelfManagedTls {
  private readonly core: CoreV1Api;

  constructor(private readonly options: SelfManagedTlsOptions) {
    this.core = apiClient(options.kubeConfig, CoreV1Api);
  }

  /** Reads, creates or renews the Secret. */
  async ensure(): Promise<TlsMaterial> {
    try {
      const material = await this.ensureSecret();
      return { ok: true, ...material };
    } catch (error) {
      return { ok: false, reason: `self-managed TLS: ${describeApiError(error)}` };
    }
  }

  private async ensureSecret(attempt = 0): Promise<{ serving: CertificatePair; caBundle: string }> {
    const { namespace, secretName: name } = this.options;
    const existing = await this.core
      .readNamespacedSecret({ name, namespace })
      .catch((error: unknown) => {
        if (statusCode(error) === 404) return undefined;
        throw error;
      });
    const stored = existing ? readStored(existing) : undefined;
    if (stored && !this.needsRenewal(stored.serving.cert)) {
      return { serving: stored.serving, caBundle: stored.ca.cert };
    }
    const ca = stored?.ca ?? generateCa(this.options.caValidDays ?? 3650);
    const { serving } = issueServingCertificate(
      ca,
      this.options.dnsNames,
      this.options.ipAddresses,
      this.options.servingValidDays ?? 365,
    );
    const body: V1Secret = {
      apiVersion: "v1",
      kind: "Secret",
      type: "kubernetes.io/tls",
      metadata: {
        name,
        namespace,
        resourceVersion: existing?.metadata?.resourceVersion,
        labels: { "app.kubernetes.io/name": "nebula-br-webhook" },
      },
      data: {
        "tls.crt": b64(serving.cert),
        "tls.key": b64(serving.key),
        "ca.crt": b64(ca.cert),
        "ca.key": b64(ca.key),
      },
    };
    try {
      if (existing) await this.core.replaceNamespacedSecret({ name, namespace, body });
      else await this.core.createNamespacedSecret({ namespace, body });
      this.options.logger.info(
        { secret: `${namespace}/${name}`, renewed: !!stored },
        "serving certificate stored",
      );
      return { serving, caBundle: ca.cert };
    } catch (error) {
      // Another replica wrote first: use what it wrote.
      if ((statusCode(error) === 409 || statusCode(error) === 422) && attempt < 3)
        return this.ensureSecret(attempt + 1);
      throw error;
    }
  }

  private needsRenewal(cert: string): boolean {
    const notAfter = certificateNotAfter(cert);
    return (
      !notAfter || notAfter.getTime() - Date.now() < (this.options.renewBeforeDays ?? 30) * DAY_MS
    );
  }
}

function readStored(
  secret: V1Secret,
): { ca: CertificatePair; serving: CertificatePair } | undefined {
  const data = secret.data ?? {};
  const text = (key: string) =>
    data[key] ? Buffer.from(data[key], "base64").toString("utf8") : undefined;
  const [caCert, caKey, cert, key] = [
    text("ca.crt"),
    text("ca.key"),
    text("tls.crt"),
    text("tls.key"),
  ];
  if (!caCert || !caKey || !cert || !key) return undefined;
  return { ca: { cert: caCert, key: caKey }, serving: { cert, key } };
}

const b64 = (text: string): string => Buffer.from(text).toString("base64");
