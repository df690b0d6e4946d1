/**
 * The benchmark's yardstick: a bare Node https server that parses the same AdmissionReview
 * and answers allowed: true. Usage: baseline-server PORT CERT KEY [ANSWERS]
 *
 * With ANSWERS (a JSON file of `"<stage>:<object name>"` → AdmissionResponse without its uid,
 * stage being `mutate` or `validate`: bench/webhook-answers.ts), a request for an object named
 * there gets that answer instead: the webhook's own answers, looked up rather than worked out,
 * so that what the API server spends on an answer (applying its patch, its warnings) is
 * measured apart from what the webhook spends on reaching it.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:https";

const [port, cert, key, answersFile] = process.argv.slice(2);
if (!port || !cert || !key) {
  process.stderr.write("usage: baseline-server PORT CERT KEY [ANSWERS]\n");
  process.exit(2);
}

interface Request {
  readonly uid: string;
  readonly name?: string;
}

/** Parse and allow: the throughput baseline's work, and nothing else. */
const allow = (request: Request) => ({ uid: request.uid, allowed: true });

/**
 * The answer looked up. An object not there is denied, so that the bench counts an error
 * rather than timing a bare allow as the webhook's answer.
 */
function lookUp(answers: Map<string, object>) {
  const missing = {
    allowed: false,
    status: { code: 500, message: "baseline-server: no answer looked up for this object" },
  };
  return (request: Request, url: string | undefined) => ({
    uid: request.uid,
    ...(answers.get(`${(url ?? "").split("?")[0]?.slice(1)}:${request.name}`) ?? missing),
  });
}

const answer: (request: Request, url: string | undefined) => object = answersFile
  ? lookUp(new Map(Object.entries(JSON.parse(readFileSync(answersFile, "utf8")) as object)))
  : allow;

createServer(
  { cert: readFileSync(cert), key: readFileSync(key), minVersion: "TLSv1.2" },
  (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const review = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { request: Request };
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          apiVersion: "admission.k8s.io/v1",
          kind: "AdmissionReview",
          response: answer(review.request, req.url),
        }),
      );
    });
  },
).listen(Number(port), "127.0.0.1", () =>
  process.stdout.write("ready\n"),
).keepAliveTimeout = 65_000;
