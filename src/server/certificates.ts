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
  const now = new Date(Date.now() - 5 * 60 * 1000);
  const notAfter = new Date(now.getTime() + validDays * 24 * 3600 * 1000);
  const caKeys = rsaKeyPair();
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = caKeys.publicKey;
  caCert.serialNumber = serial();
  caCert.validity.notBefore = now;
  caCert.validity.notAfter = new Date(notAfter.getTime() + 24 * 3600 * 1000);
  const caSubject = [{ name: "commonName", value: "nebula-br-webhook-ca" }];
  caCert.setSubject(caSubject);
  caCert.setIssuer(caSubject);
  caCert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  caCert.sign(caKeys.privateKey, forge.md.sha256.create());

  const servingKeys = rsaKeyPair();
  const serving = forge.pki.createCertificate();
  serving.publicKey = servingKeys.publicKey;
  serving.serialNumber = serial();
  serving.validity.notBefore = now;
  serving.validity.notAfter = notAfter;
  serving.setSubject([{ name: "commonName", value: dnsNames[0] ?? "nebula-br-webhook" }]);
  serving.setIssuer(caSubject);
  serving.setExtensions([
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
  serving.sign(caKeys.privateKey, forge.md.sha256.create());

  return {
    ca: {
      cert: forge.pki.certificateToPem(caCert),
      key: forge.pki.privateKeyToPem(caKeys.privateKey),
    },
    serving: {
      cert: forge.pki.certificateToPem(serving),
      key: forge.pki.privateKeyToPem(servingKeys.privateKey),
    },
    notAfter,
  };
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
