/**
 * Stand-ins for an API server that misbehaves. A real kube-apiserver cannot be made to hang
 * or vanish on cue from a unit of test, so these fakes play its network part only.
 */
import { writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { freePort } from "./serve-process.js";

/** Accepts TCP connections and never answers: a hung API server. */
export async function blackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port nothing listens on: an unreachable API server. */
export const closedPort = freePort;

/** A kubeconfig whose cluster is https://127.0.0.1:PORT (no such API server behind it). */
export async function kubeconfigFor(dir: string, port: number): Promise<string> {
  const file = join(dir, `kubeconfig-${port}`);
  await writeFile(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: standin
  cluster: {server: "https://127.0.0.1:${port}", insecure-skip-tls-verify: true}
users:
- name: standin
  user: {token: standin-token-not-a-secret}
contexts:
- name: standin
  context: {cluster: standin, user: standin}
current-context: standin
`,
  );
  return file;
}
