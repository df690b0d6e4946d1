/** Prints the shipped webhook configurations pointed at a webhook on 127.0.0.1: PORT CA_FILE. */
import { readFileSync } from "node:fs";
import { webhookConfigurations } from "./harness.js";

const [port, caFile] = process.argv.slice(2);
if (!port || !caFile) {
  process.stderr.write("usage: render-webhooks PORT CA_FILE\n");
  process.exit(2);
}
process.stdout.write(webhookConfigurations(Number(port), readFileSync(caFile, "utf8")));
