#!/usr/bin/env node
import { randomUUID } from "node:crypto";
import { Command, InvalidArgumentError, Option } from "commander";
import { reviewFor } from "./admission/review.js";
import { auditCommand } from "./cli/audit-command.js";
import { checkCommand } from "./cli/check.js";
import { serveCommand } from "./cli/serve-command.js";
import { readManifests } from "./kube/manifests.js";

const EXIT_UNREADABLE = 2;

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new InvalidArgumentError("must be a whole number");
  return parsed;
}

/** Prints a reason and exits: the one place where errors-as-values become an exit code. */
function fail(reason: string, code = EXIT_UNREADABLE): never {
  process.stderr.write(`nebula-br-webhook: ${reason}\n`);
  process.exit(code);
}

const program = new Command()
  .name("nebula-br-webhook")
  .description("Admission webhook that guards NebulaGraph backup and restore on Kubernetes")
  .showHelpAfterError();

program
  .command("serve")
  .description("serve /validate and /mutate over HTTPS")
  .option(
    "--host <host>",
    "address to listen on",
    process.env.KUBERNETES_SERVICE_HOST ? "0.0.0.0" : "127.0.0.1",
  )
  .option("--port <port>", "port to listen on", integer, 8443)
  .option("--tls-cert <file>", "serving certificate (PEM); reloaded when it changes")
  .option("--tls-key <file>", "serving key (PEM)")
  .option(
    "--ca-out <file>",
    "write the CA the webhook made (generated or self-managed) here, for clients to trust",
  )
  .option(
    "--cluster-state <file>",
    "static cluster view: YAML stream of NebulaClusters and Secrets",
  )
  .option("--kubeconfig <file>", "live cluster view through this kubeconfig")
  .option("--config <file>", "configuration file (YAML)")
  .option(
    "--tls-secret <name>",
    "self-managed TLS: keep the CA and certificate in this Secret (needs a live cluster)",
  )
  .option(
    "--webhook-configuration <name>",
    "the validating and mutating webhook configurations of this name: filled in with --register-webhooks, else only their caBundle is kept up to date",
  )
  .option(
    "--register-webhooks",
    "once ready, fill in the webhooks of --webhook-configuration (server-side apply) and write them again when they drift; never creates a configuration",
  )
  .option(
    "--webhook-url <url>",
    "with --register-webhooks: the API server calls https://host:port instead of the Service (a webhook outside the cluster)",
  )
  .addOption(
    new Option(
      "--failure-policy <policy>",
      "with --register-webhooks: when the webhook cannot answer",
    )
      .choices(["Fail", "Ignore"])
      .default("Fail"),
  )
  .option(
    "--webhook-timeout <seconds>",
    "with --register-webhooks: how long the API server waits for an answer (1-30)",
    integer,
    5,
  )
  .option(
    "--webhook-check-interval <seconds>",
    "how often the registered webhooks are checked for drift",
    integer,
    30,
  )
  .option(
    "--ca-file <file>",
    "the CA of --tls-cert (PEM, e.g. ca.crt of a cert-manager Secret), written as caBundle; read again at each check",
  )
  .option("--service-name <name>", "Service name for made certificates", "nebula-br-webhook")
  .option(
    "--service-namespace <ns>",
    "namespace of the Service and of the TLS Secret",
    process.env.POD_NAMESPACE ?? "nebula-br-webhook",
  )
  .option("--service-port <port>", "port of the Service, for registered webhooks", integer, 443)
  .option("--max-body-bytes <n>", "largest AdmissionReview accepted", integer, 3 * 1024 * 1024)
  .option("--secret-timeout-ms <n>", "how long a Secret GET may take", integer, 2000)
  .addOption(
    new Option("--log-level <level>", "log level")
      .choices(["debug", "info", "warn", "error"])
      .default("info"),
  )
  .option(
    "--audit-interval <seconds>",
    "background audit period with a live cluster; 0 turns it off",
    integer,
    60,
  )
  .option(
    "--audit-lease-duration <seconds>",
    "replicas elect one auditor with the Lease <service-name>-audit in --service-namespace; 0: no Lease (one replica only)",
    integer,
    15,
  )
  .option(
    "--shutdown-grace <seconds>",
    "how long in-flight requests may take after SIGTERM",
    integer,
    10,
  )
  .option(
    "--shutdown-delay <seconds>",
    "after SIGTERM, keep serving (not ready) this long while endpoints drop the pod",
    integer,
    0,
  )
  .option(
    "--client-ca <file>",
    "mutual TLS: accept only clients with a certificate from this CA (PEM); needs --metrics-port",
  )
  .option(
    "--metrics-port <port>",
    "also serve /healthz, /readyz and /metrics over plain HTTP on this port",
    integer,
  )
  .option("--max-connections <n>", "connections open at once on the HTTPS port", integer, 512)
  .option(
    "--request-timeout <seconds>",
    "a request must have arrived whole this long after it started (headers: 10 s at most)",
    integer,
    15,
  )
  .action((opts) => serveCommand(opts, fail));

program
  .command("check")
  .description("run the rules offline on manifests; exit 1 if anything is denied")
  .requiredOption(
    "-f, --filename <path...>",
    "manifest files or directories; - reads standard input",
  )
  .option("--cluster-state <file>", "cluster view (default: the embedded example state)")
  .addOption(
    new Option(
      "--kubeconfig <file>",
      "judge against a live cluster through this kubeconfig",
    ).conflicts("clusterState"),
  )
  .option("--config <file>", "configuration file (YAML)")
  .addOption(
    new Option(
      "-o, --output <format>",
      "print the mutated objects (yaml, json) or a CI report (junit, sarif); the verdicts then go to stderr",
    ).choices(["yaml", "json", "junit", "sarif"]),
  )
  // Usage errors exit 2 like unreadable input: 1 means "something is denied".
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : EXIT_UNREADABLE))
  .action(async (opts) => {
    process.exitCode = await checkCommand(opts, fail);
  });

program
  .command("review")
  .description("print the AdmissionReview the API server would send for a manifest (for curl)")
  .requiredOption("-f, --filename <file>", "manifest file; its first object is used")
  .addOption(
    new Option("--operation <op>", "admission operation")
      .choices(["CREATE", "UPDATE", "DELETE"])
      .default("CREATE"),
  )
  .action(async (opts) => {
    const manifests = await readManifests([opts.filename]);
    if (!manifests.ok) fail(manifests.reason);
    const first = manifests.objects[0];
    if (!first) fail(`${opts.filename} holds no object`);
    process.stdout.write(
      `${JSON.stringify(reviewFor(first.object, { uid: randomUUID(), operation: opts.operation }))}\n`,
    );
  });

program
  .command("audit")
  .description("judge the objects already in a cluster; exit 1 if any rule fails")
  .option("--kubeconfig <file>", "kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
  .option("-n, --namespace <ns>", "only this namespace (default: the context's)")
  .option("-A, --all-namespaces", "every namespace")
  .option("--config <file>", "configuration file (YAML): rule modes as the webhook runs them")
  .option("--show-pass", "list passing rules too")
  .addOption(
    new Option("-o, --output <format>", "output format (junit, sarif: CI reports)")
      .choices(["table", "json", "yaml", "junit", "sarif"])
      .default("table"),
  )
  .action(async (opts) => {
    process.exitCode = await auditCommand(opts, fail);
  });

await program.parseAsync();
