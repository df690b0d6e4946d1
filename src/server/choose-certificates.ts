import type { Logger } from "pino";
import { loadKubeConfig } from "../kube/kubeconfig.js";
import {
  type CertificateSource,
  fileCertificates,
  generatedCertificates,
  selfManagedCertificates,
} from "./certificate-source.js";
import { serviceDnsNames } from "./certificates.js";
import { SelfManagedTls } from "./self-managed-tls.js";

export interface CertificateChoice {
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsSecret?: string;
  readonly kubeconfig?: string;
  readonly serviceName: string;
  readonly serviceNamespace: string;
}

export type CertificateResult =
  | { ok: true; source: CertificateSource }
  | { ok: false; reason: string };

/** Files when given, else the self-managed Secret when named, else generated in memory. */
export function chooseCertificates(
  choice: CertificateChoice,
  clusterDomain: string,
  logger: Logger,
): CertificateResult {
  if (choice.tlsCert || choice.tlsKey) {
    if (!choice.tlsCert || !choice.tlsKey) {
      return { ok: false, reason: "give both --tls-cert and --tls-key, or neither" };
    }
    return { ok: true, source: fileCertificates(choice.tlsCert, choice.tlsKey, logger) };
  }
  const dnsNames = [
    "localhost",
    ...serviceDnsNames(choice.serviceName, choice.serviceNamespace, clusterDomain),
  ];
  if (!choice.tlsSecret) return { ok: true, source: generatedCertificates(dnsNames) };
  const loaded = loadKubeConfig(choice.kubeconfig);
  if (!loaded.ok) return { ok: false, reason: `--tls-secret needs a cluster: ${loaded.reason}` };
  const tls = new SelfManagedTls({
    kubeConfig: loaded.kubeConfig,
    logger,
    namespace: choice.serviceNamespace,
    secretName: choice.tlsSecret,
    dnsNames,
    ipAddresses: ["127.0.0.1"],
  });
  return { ok: true, source: selfManagedCertificates(tls, logger) };
}
