/**
 * The benchmark's yardstick: a bare Node https server that parses the same AdmissionReview
 * and answers allowed: true. Usage: baseline-server PORT CERT KEY [ANSWERS]
 *
 * With ANSWERS (a JSON file of `"<stage>:<object name>"` → AdmissionResponse without its uid,
 * stage being `mutate` or `validate`), a request for an object named there gets that answer
 * instead: the webhook's own answers, looked up rather than worked out, so that what the API
 * server spends on an answer (applying its patch, its warnings) is measured apart from what
 * the webhook spends on reaching it.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:https";

const [port, cert, key, answersFile] = process.argv.slice(2);
if (!port || !cert || !key) {
  process.stderr.write("usage: baseline-server PORT CERT KEY [ANSWERS]\n");
  process.exit(2);
}
const answers = new Map<string, object>(
  Object.entries(
    answersFile ? (JSON.parse(readFileSync(answersFile, "utf8")) as Record<string, object>) : {},
  ),
);

const NO_ANSWER = {
  allowed: false,
  status: { code: 500, message: "baseline-server: no answer looked up for this object" },
};

createServer(
  { cert: readFileSync(cert), key: readFileSync(key), minVersion: "TLSv1.2" },
  (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const review = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        request: { uid: string; name?: string };
      };
      // Without ANSWERS the same work as ever: the throughput baseline is not made slower.
      // With them, an object not looked up is denied, so that the bench counts it an error
      // rather than timing a bare allow as the webhook's answer.
      const answer =
        answers.size > 0
          ? (answers.get(`${(req.url ?? "").split("?")[0]?.slice(1)}:${review.request.name}`) ??
            NO_ANSWER)
          : undefined;
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          apiVersion: "admission.k8s.io/v1",
          kind: "AdmissionReview",
          response: answer
            ? { uid: review.request.uid, ...answer }
            : { uid: review.request.uid, allowed: true },
        }),
      );
    });
  },
).listen(Number(port), "127.0.0.1", () =>
  process.stdout.write("ready\n"),
).keepAliveTimeout = 65_000;
