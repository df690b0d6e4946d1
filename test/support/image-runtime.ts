/**
 * How the image runs node (image/build.sh, which says why): its entrypoint's flags and its
 * environment. The image's tests check the built image against these; tests that hold the
 * webhook to the pod's memory limit run it with them, as it ships.
 */
export const IMAGE_NODE_FLAGS: readonly string[] = [
  "--max-semi-space-size=16",
  "--expose-gc",
  "--max-old-space-size-percentage=50",
];

export const IMAGE_ENV: Readonly<Record<string, string>> = {
  GLIBC_TUNABLES: "glibc.malloc.mmap_threshold=32768",
};
