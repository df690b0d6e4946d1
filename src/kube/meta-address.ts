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

const LABEL = "[a-z0-9](?:[-a-z0-9]*[a-z0-9])?";
const META_HOST = new RegExp(
  `^(?<cluster>${LABEL})-metad-\\d+\\.(?<again>${LABEL})-metad-headless` +
    `(?:\\.(?<namespace>${LABEL})(?:\\.svc(?:\\.(?<domain>.+))?)?)?$`,
);

/**
 * Reads the cluster (and namespace) out of a `--meta` address such as
 * `nebula-metad-0.nebula-metad-headless.nebula.svc.cluster.local:9559`. The whole host must
 * be a meta pod's name under the cluster domain, anchored at both ends: a host that only
 * starts like one (`…svc.attacker.example`) names no cluster.
 */
export function parseMetaAddress(address: string, clusterDomain: string): MetaTarget | undefined {
  const host = address.replace(/:\d{1,5}$/, "").replace(/\.$/, "");
  const match = host.match(META_HOST);
  const groups = match?.groups;
  if (!groups || groups.cluster !== groups.again) return undefined;
  if (groups.domain !== undefined && groups.domain !== clusterDomain) return undefined;
  return { cluster: groups.cluster as string, namespace: groups.namespace };
}
