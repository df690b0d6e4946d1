import { generateKeyPairSync, randomBytes } from "node:crypto";
import forge from "node-forge";

export interface CertificatePair {
  readonly cert: string;
  readonly key: string;
}

export interface GeneratedCertificates {
  readonly ca: CertificatePair;
  readonly serving: CertificatePair;
  readonly notAfter: Date;
}

/**
 * A private CA and a serving certificate signed by it, for self-managed TLS. Keys come from
 * Node's crypto (fast, native); node-forge builds and signs the X.509 certificates.
 */
export function generateCertificates(
  dnsNames: readonly string[],
  ipAddresses: readonly string[],
  validDays = 365,
): GeneratedCertificates {
  const ca = generateCa(validDays * 10);
  return { ca, ...issueServingCertificate(ca, dnsNames, ipAddresses, validDays) };
}

const DAY_MS = 24 * 3600 * 1000;
/** Tolerate clocks a little behind ours. */
const BACKDATE_MS = 5 * 60 * 1000;
const CA_SUBJECT = [{ name: "commonName", value: "nebula-br-webhook-ca" }];

export function generateCa(validDays: number): CertificatePair {
  const keys = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - BACKDATE_MS);
  cert.validity.notAfter = new Date(Date.now() + validDays * DAY_MS);
  cert.setSubject(CA_SUBJECT);
  cert.setIssuer(CA_SUBJECT);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return {
    cert: forge.pki.certificateToPem(cert),
    key: forge.pki.privateKeyToPem(keys.privateKey),
  };
}

export function issueServingCertificate(
  ca: CertificatePair,
  dnsNames: readonly string[],
  ipAddresses: readonly string[],
  validDays: number,
): { serving: CertificatePair; notAfter: Date } {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const keys = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  const notAfter = new Date(Date.now() + validDays * DAY_MS);
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - BACKDATE_MS);
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: "commonName", value: dnsNames[0] ?? "nebula-br-webhook" }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    {
      name: "subjectAltName",
      altNames: [
        ...dnsNames.map((value) => ({ type: 2, value })),
        ...ipAddresses.map((ip) => ({ type: 7, ip })),
      ],
    },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return {
    serving: {
      cert: forge.pki.certificateToPem(cert),
      key: forge.pki.privateKeyToPem(keys.privateKey),
    },
    notAfter,
  };
}

/** When a PEM certificate expires (undefined when it cannot be read). */
export function certificateNotAfter(pem: string): Date | undefined {
  try {
    return forge.pki.certificateFromPem(pem).validity.notAfter;
  } catch {
    return undefined;
  }
}

function rsaKeyPair(): {
  publicKey: forge.pki.rsa.PublicKey;
  privateKey: forge.pki.rsa.PrivateKey;
} {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey) as forge.pki.rsa.PublicKey,
    privateKey: forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey,
  };
}

/** A positive random serial (the high bit cleared so DER does not read it as negative). */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString("hex");
}

/** The service names a webhook Service is reached by, for the serving certificate. */
export function serviceDnsNames(
  service: string,
  namespace: string,
  clusterDomain: string,
): string[] {
  return [
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.${clusterDomain}`,
    `${service}.${namespace}`,
    service,
  ];
}
