import { field, type KubeObject } from "../kube/objects.js";
import { lastMemo } from "../last-memo.js";
import {
  type ContainerList,
  type ContainerReading,
  imageRunsBrEnt,
  type PodContext,
  readContainer,
} from "./br-invocations.js";
import type { WorkloadKind } from "./workload-kinds.js";

/** Every container of a pod spec runs: init containers first, then the rest. */
const CONTAINER_LISTS: readonly ContainerList[] = [
  "initContainers",
  "containers",
  "ephemeralContainers",
];

/** A workload reduced to what rules need: its kind's paths and what BR its containers run. */
export interface BrWorkload {
  readonly kind: WorkloadKind;
  /** `spec.template.spec`, for messages. */
  readonly podPath: string;
  /** Containers that run BR or mention it (others are left out). */
  readonly containers: readonly ContainerReading[];
}

/** The last workload read (last-memo.ts says why not a WeakMap). */
const readings = lastMemo<KubeObject, BrWorkload>();

/** Reads a workload once per object (every rule asks); total, never throws. */
export function readBrWorkload(object: KubeObject, kind: WorkloadKind): BrWorkload {
  const cached = readings.get(object);
  if (cached?.kind === kind) return cached;
  const podSpec = field(object, ...kind.podSpecPath);
  const pod = podContext(podSpec);
  const containers: ContainerReading[] = [];
  for (const list of CONTAINER_LISTS) {
    const items = field(podSpec, list);
    if (!Array.isArray(items)) continue;
    items.forEach((container, index) => {
      const reading = readContainer(container, list, index, pod);
      if (reading.mentionsBr) containers.push(reading);
    });
  }
  const workload = { kind, podPath: kind.podSpecPath.join("."), containers };
  readings.set(object, workload);
  return workload;
}

/** What the pod offers every container: an image volume of br-ent puts the binary in reach. */
export function podContext(podSpec: unknown): PodContext {
  const volumes = field(podSpec, "volumes");
  return {
    brVolume:
      Array.isArray(volumes) &&
      volumes.some((volume) => imageRunsBrEnt(field(volume, "image", "reference"))),
  };
}

/** The workload runs, or may run, BR: the webhook guards it. */
export const guardsBr = (workload: BrWorkload): boolean => workload.containers.length > 0;
