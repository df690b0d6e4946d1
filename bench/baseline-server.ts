/**
 * The benchmark's yardstick: a bare Node https server that parses the same AdmissionReview
 * and answers allowed: true. Usage: baseline-server PORT CERT KEY
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:https";

const [port, cert, key] = process.argv.slice(2);
if (!port || !cert || !key) {
  process.stderr.write("usage: baseline-server PORT CERT KEY\n");
  process.exit(2);
}
createServer(
  { cert: readFileSync(cert), key: readFileSync(key), minVersion: "TLSv1.2" },
  (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const review = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        request: { uid: string };
      };
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          apiVersion: "admission.k8s.io/v1",
          kind: "AdmissionReview",
          response: { uid: review.request.uid, allowed: true },
        }),
      );
    });
  },
).listen(Number(port), "127.0.0.1", () =>
  process.stdout.write("ready\n"),
).keepAliveTimeout = 65_000;
