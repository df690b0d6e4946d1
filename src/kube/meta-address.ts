/** Naming of NebulaGraph meta services, as the operator creates them. */

export const DEFAULT_META_PORT = 9559;

/** The thrift host of meta pod 0, which BR's `--meta` wants. */
export function metaPodHost(cluster: string, namespace: string, clusterDomain: string): string {
  return `${cluster}-metad-0.${cluster}-metad-headless.${namespace}.svc.${clusterDomain}`;
}

export interface MetaTarget {
  readonly cluster: string;
  /** Present when the host is fully qualified enough to name it. */
  readonly namespace: string | undefined;
}

/**
 * Reads the cluster (and namespace) out of a `--meta` address such as
 * `nebula-metad-0.nebula-metad-headless.nebula.svc.cluster.local:9559`.
 */
export function parseMetaAddress(address: string): MetaTarget | undefined {
  const host = address.replace(/:\d+$/, "");
  const match = host.match(
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)-metad-\d+\.([a-z0-9-]+)-metad-headless(\.([a-z0-9-]+))?/,
  );
  if (!match || match[1] !== match[3]) return undefined;
  return { cluster: match[1] as string, namespace: match[5] };
}
