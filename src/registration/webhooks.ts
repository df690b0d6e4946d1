/**
 * The webhooks this app registers: what the API server sends to /mutate and /validate, and
 * what it keeps away. The install ships both configurations without webhooks (so that
 * installing never blocks anything); `serve --register-webhooks` fills them in from here once
 * a replica is ready to answer, with the endpoint, CA, failure policy, timeout and exempt
 * namespaces of that deployment. One table per configuration, one row per webhook.
 */
import type {
  AdmissionregistrationV1WebhookClientConfig,
  V1MatchCondition,
  V1MutatingWebhook,
  V1MutatingWebhookConfiguration,
  V1RuleWithOperations,
  V1ValidatingWebhook,
  V1ValidatingWebhookConfiguration,
} from "@kubernetes/client-node";

/** Where the API server reaches the webhook: the in-cluster Service, or a URL outside. */
export type WebhookEndpoint =
  | {
      readonly service: {
        readonly name: string;
        readonly namespace: string;
        readonly port: number;
      };
    }
  /** `https://host:port`, without a path: /mutate and /validate are added. */
  | { readonly url: string };

export interface WebhookSettings {
  /** Both configurations carry this name. */
  readonly configurationName: string;
  readonly endpoint: WebhookEndpoint;
  readonly failurePolicy: "Fail" | "Ignore";
  /** 1 to 30 seconds. */
  readonly timeoutSeconds: number;
  /** Objects in these namespaces are never sent (the namespaceSelector of every webhook). */
  readonly exemptNamespaces: readonly string[];
  /**
   * The CA (PEM) the API server trusts for this webhook. Without one, the caBundle is left
   * out (a publicly trusted serving certificate, or another party writes it).
   */
  readonly caPem?: string;
}

export interface WebhookConfigurations {
  readonly mutating: V1MutatingWebhookConfiguration;
  readonly validating: V1ValidatingWebhookConfiguration;
}

type Operation = "CREATE" | "UPDATE";

interface Hook {
  /** The webhook's name without the `.nebula-br-webhook.io` suffix. */
  readonly name: string;
  readonly rules: readonly V1RuleWithOperations[];
  /** Sent only when the pods of the object may run BR: the CEL path of its pod spec. */
  readonly podSpec?: string;
  /** Pods: an ephemeral container may run BR too. */
  readonly ephemeralContainers?: boolean;
  /** Sent only when no controller made the object (mutations complete what a person wrote). */
  readonly notFromAController?: boolean;
}

const nebula = (resource: string, ...operations: Operation[]): V1RuleWithOperations => ({
  apiGroups: ["apps.nebula-graph.io"],
  apiVersions: ["v1alpha1"],
  resources: [resource],
  operations,
});
const kube = (
  group: string,
  resource: string,
  ...operations: Operation[]
): V1RuleWithOperations => ({
  apiGroups: [group],
  apiVersions: ["v1"],
  resources: [resource],
  operations,
});

/** Where each kind keeps the pod spec it will run. */
const POD_SPEC = {
  pod: "object.spec",
  template: "object.spec.template.spec",
  cronJob: "object.spec.jobTemplate.spec.template.spec",
} as const;

/** /mutate: fill in defaults on what a person wrote (the API server calls these first). */
const MUTATING: readonly Hook[] = [
  { name: "nebularestores", rules: [nebula("nebularestores", "CREATE")] },
  {
    name: "nebulabackups",
    rules: [nebula("nebulabackups", "CREATE"), nebula("nebulacronbackups", "CREATE")],
  },
  {
    name: "backup-jobs",
    rules: [kube("batch", "jobs", "CREATE")],
    podSpec: POD_SPEC.template,
    // A Job of a CronJob or of the NebulaGraph Operator was completed in its template, or is
    // written by the operator itself.
    notFromAController: true,
  },
  {
    name: "backup-cronjobs",
    rules: [kube("batch", "cronjobs", "CREATE", "UPDATE")],
    podSpec: POD_SPEC.cronJob,
    notFromAController: true,
  },
];

/** /validate: every kind that guards BR, and every kind whose pods may run it. */
const VALIDATING: readonly Hook[] = [
  { name: "nebularestores", rules: [nebula("nebularestores", "CREATE", "UPDATE")] },
  {
    name: "nebulabackups",
    rules: [nebula("nebulabackups", "CREATE"), nebula("nebulacronbackups", "CREATE", "UPDATE")],
  },
  {
    name: "br-pods",
    rules: [kube("", "pods", "CREATE"), kube("", "pods/ephemeralcontainers", "UPDATE")],
    podSpec: POD_SPEC.pod,
    ephemeralContainers: true,
  },
  { name: "backup-jobs", rules: [kube("batch", "jobs", "CREATE")], podSpec: POD_SPEC.template },
  {
    name: "backup-cronjobs",
    rules: [kube("batch", "cronjobs", "CREATE", "UPDATE")],
    podSpec: POD_SPEC.cronJob,
  },
  ...["deployments", "statefulsets", "replicasets", "daemonsets"].map(
    (resource): Hook => ({
      name: `br-${resource}`,
      rules: [kube("apps", resource, "CREATE", "UPDATE")],
      podSpec: POD_SPEC.template,
    }),
  ),
];

export const WEBHOOK_NAME_SUFFIX = ".nebula-br-webhook.io";

/** Both configurations, complete, for one deployment of the webhook. */
export function renderWebhookConfigurations(settings: WebhookSettings): WebhookConfigurations {
  return {
    mutating: {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "MutatingWebhookConfiguration",
      metadata: { name: settings.configurationName },
      webhooks: MUTATING.map(
        (hook): V1MutatingWebhook => ({
          ...webhook(hook, "/mutate", settings),
          // The rules are written so that one pass is enough: no second call after others mutate.
          reinvocationPolicy: "Never",
        }),
      ),
    },
    validating: {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: { name: settings.configurationName },
      webhooks: VALIDATING.map((hook) => webhook(hook, "/validate", settings)),
    },
  };
}

function webhook(hook: Hook, path: string, settings: WebhookSettings): V1ValidatingWebhook {
  const matchConditions: V1MatchCondition[] = [];
  if (hook.podSpec)
    matchConditions.push({
      name: "may-run-br",
      expression: mayRunBr(hook.podSpec, hook.ephemeralContainers === true),
    });
  if (hook.notFromAController)
    matchConditions.push({ name: "not-made-by-a-controller", expression: NOT_FROM_A_CONTROLLER });
  return {
    name: `${hook.name}${WEBHOOK_NAME_SUFFIX}`,
    clientConfig: clientConfig(settings, path),
    rules: hook.rules.map((rule) => ({ ...rule })),
    namespaceSelector: {
      matchExpressions: [
        {
          key: "kubernetes.io/metadata.name",
          operator: "NotIn",
          values: [...settings.exemptNamespaces],
        },
      ],
    },
    failurePolicy: settings.failurePolicy,
    sideEffects: "None",
    timeoutSeconds: settings.timeoutSeconds,
    admissionReviewVersions: ["v1"],
    ...(matchConditions.length > 0 ? { matchConditions } : {}),
  };
}

function clientConfig(
  settings: WebhookSettings,
  path: string,
): AdmissionregistrationV1WebhookClientConfig {
  const caBundle =
    settings.caPem === undefined
      ? {}
      : { caBundle: Buffer.from(settings.caPem).toString("base64") };
  if ("url" in settings.endpoint)
    return { url: `${settings.endpoint.url.replace(/\/+$/, "")}${path}`, ...caBundle };
  const { name, namespace, port } = settings.endpoint.service;
  return { service: { name, namespace, path, port }, ...caBundle };
}

// --- matchConditions (CEL) -------------------------------------------------------------------
// Only objects whose pods may run BR are sent: any container, init container, ephemeral
// container, env value, exec hook or image volume that names br-ent or nebula-br. The server
// then reads exactly what runs; these conditions only keep the rest of the cluster's traffic
// away, so they err on the side of sending.

/** An image reference naming BR: br-ent anywhere, or a `nebula-br` repository. */
const BR_IMAGE = "(^|/)nebula-br([-_.]v?[0-9][^/]*)?([:@]|$)";
const namesBr = (text: string) => `${text}.contains('br-ent') || ${text}.contains('nebula-br')`;
const anyWordNamesBr = (list: string) => `${list}.exists(w, ${namesBr("w")})`;
const execNamesBr = (handler: string) =>
  `(has(${handler}.exec) && has(${handler}.exec.command) && ${anyWordNamesBr(`${handler}.exec.command`)})`;

/** One container (`c`) that may run BR, as lines. */
const CONTAINER_MAY_RUN_BR = [
  `(has(c.image) && (c.image.contains('br-ent') || c.image.matches('${BR_IMAGE}'))) ||`,
  `(has(c.command) && ${anyWordNamesBr("c.command")}) ||`,
  `(has(c.args) && (${anyWordNamesBr("c.args")} ||`,
  // An image's own entrypoint with `backup` or `restore` as its first argument.
  `  (!has(c.command) && size(c.args) > 0 && (c.args[0] == 'backup' || c.args[0] == 'restore')))) ||`,
  `(has(c.env) && c.env.exists(e, has(e.value) && (${namesBr("e.value")}))) ||`,
  `(has(c.lifecycle) && ((has(c.lifecycle.postStart) && ${execNamesBr("c.lifecycle.postStart")}) ||`,
  `  (has(c.lifecycle.preStop) && ${execNamesBr("c.lifecycle.preStop")}))) ||`,
  `(has(c.livenessProbe) && ${execNamesBr("c.livenessProbe")}) ||`,
  `(has(c.readinessProbe) && ${execNamesBr("c.readinessProbe")}) ||`,
  `(has(c.startupProbe) && ${execNamesBr("c.startupProbe")})`,
];

/** The `may-run-br` condition for the pod spec at `podSpec` (a CEL path under `object`). */
export function mayRunBr(podSpec: string, ephemeralContainers = false): string {
  // has() on every step of the path: a field that is absent is false, not an error.
  const steps = podSpec.split(".");
  const present = steps.slice(1).map((_, i) => `has(${steps.slice(0, i + 2).join(".")})`);
  const lists = [
    [
      `(has(${podSpec}.volumes) && ${podSpec}.volumes.exists(v, has(v.image) && has(v.image.reference) &&`,
      `  (v.image.reference.contains('br-ent') || v.image.reference.matches('${BR_IMAGE}'))))`,
    ],
    ...[
      "initContainers",
      "containers",
      ...(ephemeralContainers ? ["ephemeralContainers"] : []),
    ].map((list) => [
      `(has(${podSpec}.${list}) && ${podSpec}.${list}.exists(c,`,
      ...CONTAINER_MAY_RUN_BR.map((line) => `  ${line}`),
    ]),
  ].map((lines, i, all) => {
    const closing = i === 0 ? "" : "))";
    const last = lines.length - 1;
    lines[last] = `${lines[last]}${closing}${i < all.length - 1 ? " ||" : ")"}`;
    return lines.join("\n");
  });
  return `${present.join(" &&\n")} && (\n${lists.join("\n")}`;
}

const NOT_FROM_A_CONTROLLER =
  "!(has(object.metadata.ownerReferences) && object.metadata.ownerReferences.exists(r, has(r.controller) && r.controller))";
