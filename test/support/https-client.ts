import { request } from "node:https";

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

/** A real AdmissionReview as the API server sends it. */
export function admissionReview(
  object: any,
  options: {
    operation?: string;
    oldObject?: unknown;
    group?: string;
    version?: string;
    kind?: string;
    dryRun?: boolean;
  } = {},
) {
  const [group, version] = String(object?.apiVersion ?? "v1").includes("/")
    ? String(object.apiVersion).split("/")
    : ["", String(object?.apiVersion ?? "v1")];
  const kind = options.kind ?? object?.kind;
  counter += 1;
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: `00000000-0000-0000-0000-${String(counter).padStart(12, "0")}`,
      kind: { group: options.group ?? group, version: options.version ?? version, kind },
      resource: {
        group: options.group ?? group,
        version: options.version ?? version,
        resource: `${String(kind).toLowerCase()}s`,
      },
      requestKind: { group: options.group ?? group, version: options.version ?? version, kind },
      name: object?.metadata?.name,
      namespace: object?.metadata?.namespace,
      operation: options.operation ?? "CREATE",
      userInfo: {
        username: "kubernetes-admin",
        groups: ["system:masters", "system:authenticated"],
      },
      object,
      oldObject: options.oldObject ?? null,
      dryRun: options.dryRun ?? false,
      options: { apiVersion: "meta.k8s.io/v1", kind: "CreateOptions" },
    },
  };
}
