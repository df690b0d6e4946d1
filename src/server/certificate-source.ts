import type { Logger } from "pino";
import { type CertificatePair, generateCertificates } from "./certificates.js";
import type { SelfManagedTls } from "./self-managed-tls.js";
import { loadPair, watchPair } from "./tls-source.js";

/** Where the serving certificate comes from, and how it is renewed. */
export interface CertificateSource {
  readonly describe: string;
  /** The pair to start with, and the CA clients should trust when we made it. */
  start(): Promise<
    { ok: true; pair: CertificatePair; caPem?: string } | { ok: false; reason: string }
  >;
  /**
   * Calls back with each renewed pair (and the CA that signed it, when the webhook made it);
   * returns a function that stops watching.
   */
  watch(onChange: (pair: CertificatePair, caPem?: string) => void): () => void;
}

/** Files mounted from a Secret (cert-manager or your own PKI), reloaded when they change. */
export function fileCertificates(
  certFile: string,
  keyFile: string,
  logger: Logger,
): CertificateSource {
  return {
    describe: `files ${certFile}, ${keyFile}`,
    start: () => loadPair(certFile, keyFile),
    watch: (onChange) => watchPair(certFile, keyFile, logger, onChange),
  };
}

/** A CA and certificate made at start-up, for local runs and tests. */
export function generatedCertificates(dnsNames: readonly string[]): CertificateSource {
  return {
    describe: "generated at start-up",
    async start() {
      const generated = generateCertificates(dnsNames, ["127.0.0.1", "::1"]);
      return { ok: true, pair: generated.serving, caPem: generated.ca.cert };
    },
    watch: () => () => {},
  };
}

/** The shared Secret of self-managed mode, checked again every `checkEveryMs` for renewal. */
export function selfManagedCertificates(
  tls: SelfManagedTls,
  logger: Logger,
  checkEveryMs = 6 * 3600 * 1000,
): CertificateSource {
  let current: string | undefined;
  return {
    describe: "self-managed Secret",
    async start() {
      const material = await tls.ensure();
      if (!material.ok) return material;
      current = material.serving.cert;
      return { ok: true, pair: material.serving, caPem: material.caBundle };
    },
    watch(onChange) {
      const timer = setInterval(async () => {
        const material = await tls.ensure();
        if (!material.ok) {
          logger.warn(
            { reason: material.reason },
            "certificate renewal check failed; keeping the current certificate",
          );
          return;
        }
        if (material.serving.cert !== current) {
          current = material.serving.cert;
          onChange(material.serving, material.caBundle);
          logger.info("serving certificate renewed");
        }
      }, checkEveryMs);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}
