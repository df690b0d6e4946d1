import { fileURLToPath } from "node:url";

/** The embedded default cluster view: lets `npm start` and `check` run with no cluster. */
export const EMBEDDED_CLUSTER_STATE = fileURLToPath(
  new URL("../../examples/cluster-state.yaml", import.meta.url),
);
