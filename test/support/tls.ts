import { connect } from "node:tls";

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
