import { request } from "node:https";
import { reviewFor } from "../../src/admission/review.js";
import type { KubeObject } from "../../src/kube/objects.js";
import type { AdmissionOperation } from "../../src/rules/rule.js";

export interface HttpAnswer {
  readonly status: number;
  readonly body: any;
  readonly text: string;
}

/** One HTTPS request to the webhook on 127.0.0.1, trusting the given CA. */
export function post(
  port: number,
  ca: string,
  path: string,
  body: unknown,
  options: { contentType?: string; raw?: string | Buffer; method?: string } = {},
): Promise<HttpAnswer> {
  const payload = options.raw ?? (body === undefined ? "" : JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: options.method ?? "POST",
        ca,
        headers: {
          "content-type": options.contentType ?? "application/json",
          "content-length": Buffer.byteLength(payload),
        },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      },
    );
    req.on("error", reject);
    req.end(options.method === "GET" ? undefined : payload);
  });
}

let counter = 0;

/** A real AdmissionReview as the API server sends it, with a fresh uid. */
export function admissionReview(
  object: any,
  options: {
    operation?: AdmissionOperation;
    oldObject?: KubeObject;
    kind?: string;
    group?: string;
    version?: string;
    dryRun?: boolean;
  } = {},
): any {
  counter += 1;
  const uid = `00000000-0000-0000-0000-${String(counter).padStart(12, "0")}`;
  const subject = object ?? {
    apiVersion: options.group ? `${options.group}/${options.version}` : options.version,
    kind: options.kind,
    metadata: options.oldObject?.metadata,
  };
  const review: any = reviewFor(subject, { uid, ...options });
  if (object === null) review.request.object = null;
  return review;
}
