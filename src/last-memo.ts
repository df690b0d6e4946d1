/**
 * A memo of one entry, keyed by object identity: the last key asked for and its value.
 *
 * Every rule of an admission (and of an audited object) asks for the same object's reading in
 * a row, so one entry answers them all. Why not a WeakMap: V8's young-generation collector
 * keeps a WeakMap's entries alive, so every request's reading (and its object) was promoted
 * to the old generation and freed only by a full collection. 9,000 br-ent Jobs admitted one
 * every millisecond grew the old generation by 41 MB with WeakMaps and by 12 MB with this; over
 * HTTPS, full collections fell from 8 to 4-5 (2026-11-27, --trace-gc). Latency through the
 * API server did not move measurably. It holds the last object until the next one is read.
 */
export interface LastMemo<K extends object, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): void;
}

export function lastMemo<K extends object, V>(): LastMemo<K, V> {
  let lastKey: K | undefined;
  let lastValue: V | undefined;
  return {
    get: (key) => (key === lastKey ? lastValue : undefined),
    set(key, value) {
      lastKey = key;
      lastValue = value;
    },
  };
}
