import { generateKeyPairSync, randomBytes } from "node:crypto";
import { type ConnectionOptions, connect } from "node:tls";
import forge from "node-forge";
import type { CertificatePair } from "../../src/server/certificates.js";

/** The serial number of the certificate a fresh TLS handshake on 127.0.0.1 is given. */
export function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, ca, servername: "localhost" }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial);
    });
    socket.on("error", reject);
  });
}

/** A client certificate (extKeyUsage clientAuth) signed by `ca`, as for the API server. */
export function issueClientCertificate(ca: CertificatePair, commonName: string): CertificatePair {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = `01${randomBytes(8).toString("hex")}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600 * 1000);
  cert.setSubject([{ name: "commonName", value: commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", clientAuth: true },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: privateKey };
}

export type HandshakeResult =
  | { ok: true; protocol: string | null; cipher: string }
  | { ok: false; error: string };

/** One TLS handshake on 127.0.0.1 with these client options; says how it ended. */
export function handshake(port: number, options: ConnectionOptions): Promise<HandshakeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ...options });
    socket.once("secureConnect", () => {
      // With TLS 1.3 a refused client certificate is reported after the handshake, when the
      // server's alert arrives: wait for it before calling the handshake good.
      const result: HandshakeResult = {
        ok: true,
        protocol: socket.getProtocol(),
        cipher: socket.getCipher().standardName,
      };
      socket.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
      socket.once("data", () => {
        socket.destroy();
        resolve(result);
      });
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      socket.destroy();
      resolve({ ok: false, error: error.code ?? error.message });
    });
    socket.once("close", () => resolve({ ok: false, error: "closed" }));
  });
}
