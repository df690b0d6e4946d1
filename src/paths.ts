import { fileURLToPath } from "node:url";

/** The package root, whether running from src (tests via dist) or an installed package. */
export const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The embedded default cluster view: lets `npm start` and `check` run with no cluster. */
export const EMBEDDED_CLUSTER_STATE = fileURLToPath(
  new URL("../../examples/cluster-state.yaml", import.meta.url),
);
