import { unwatchFile, watchFile } from "node:fs";
import { readFile } from "node:fs/promises";
import { createSecureContext } from "node:tls";
import type { Logger } from "pino";
import type { CertificatePair } from "./certificates.js";

export type TlsLoad = { ok: true; pair: CertificatePair } | { ok: false; reason: string };

/** Reads a certificate and key and checks that they form a usable pair. */
export async function loadPair(certFile: string, keyFile: string): Promise<TlsLoad> {
  try {
    const [cert, key] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
    createSecureContext({ cert, key });
    return { ok: true, pair: { cert, key } };
  } catch (error) {
    return {
      ok: false,
      reason: `cannot use ${certFile} / ${keyFile}: ${(error as Error).message}`,
    };
  }
}

/**
 * Watches certificate files (as mounted from a Secret, which kubelet swaps atomically) and
 * hands each new valid pair to `onChange`. A half-written or mismatched pair is skipped,
 * the previous one stays in use.
 */
export function watchPair(
  certFile: string,
  keyFile: string,
  logger: Logger,
  onChange: (pair: CertificatePair) => void,
  intervalMs = 1000,
): () => void {
  let reloading = Promise.resolve();
  const reload = () => {
    reloading = reloading.then(async () => {
      const loaded = await loadPair(certFile, keyFile);
      if (loaded.ok) {
        onChange(loaded.pair);
        logger.info({ certFile }, "serving certificate reloaded");
      } else {
        logger.warn(
          { reason: loaded.reason },
          "certificate files changed but are not usable yet; keeping the current pair",
        );
      }
    });
  };
  watchFile(certFile, { interval: intervalMs, persistent: false }, reload);
  watchFile(keyFile, { interval: intervalMs, persistent: false }, reload);
  return () => {
    unwatchFile(certFile, reload);
    unwatchFile(keyFile, reload);
  };
}
