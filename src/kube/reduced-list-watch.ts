import { isDeepStrictEqual } from "node:util";
import type { Watch } from "@kubernetes/client-node";
import { statusCode } from "./api-errors.js";
import type { ListPage } from "./api-paths.js";
import { field, type KubeObject, stringField } from "./objects.js";

export interface ReducedListWatchOptions<T> {
  /** The collection's path, for the watch (api-paths.ts `collectionPath`). */
  readonly path: string;
  /** A client-node Watch (src/kube/api-client.ts `apiWatch`, to share the connection pool). */
  readonly watch: Watch;
  /** One page of the list: at most `limit` objects, from `continueToken` when given. */
  readonly listPage: (limit: number, continueToken: string | undefined) => Promise<ListPage>;
  /** What is kept of an object (the rest is dropped as it arrives); `undefined` keeps nothing. */
  readonly reduce: (object: KubeObject) => T | undefined;
  /** Something kept was added, changed or removed (status-only changes do not count). */
  readonly onChange?: () => void;
  /** Called for each list page asked for (not for the watch: one long request, renewed). */
  readonly onList?: () => void;
  /** A complete list arrived: the cache holds `size` objects. */
  readonly onListed?: (size: number) => void;
  /** A list or watch failed; the next try is in `retryInMs`. */
  readonly onTrouble?: (what: "list" | "watch", error: unknown, retryInMs: number) => void;
  /** Objects per list page (500, as client-go's reflector asks). */
  readonly pageSize?: number;
}

interface Entry<T> {
  readonly value: T;
  readonly resourceVersion: string;
}

const PAGE_SIZE = 500;
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 8000;
/**
 * client-node's Watch drops a watch on which nothing arrived for 30 s, which breaks its
 * connection (a new TLS handshake to resume). So each watch asks the API server to end it
 * after 15 to 25 s (jittered): it then ends cleanly, the connection stays open in the pool,
 * and the next watch resumes from the last resourceVersion on it.
 */
const WATCH_SECONDS = 15;
const WATCH_JITTER_SECONDS = 10;

/**
 * A list-watch cache that keeps only what a reducer takes from each object, keyed by
 * namespace and name, with the object's resourceVersion. Like client-node's ListWatch (whose
 * Watch it uses), but:
 * - the list is read in pages (`limit`/`continue`), each reduced before the next is asked
 *   for, so the whole list of full objects is never in memory at once;
 * - the watch resumes from the last resourceVersion seen (events and bookmarks), and lists
 *   again only when the API server says that version is gone (410);
 * - it keeps trying (backing off up to 8 s) until stopped, and keeps serving what it has.
 */
export class ReducedListWatch<T> {
  private entries = new Map<string, Entry<T>>();
  /** Where the watch resumes; empty: list first. */
  private resourceVersion = "";
  private synced = false;
  private stopped = true;
  private loop: Promise<void> | undefined;
  private first: Promise<void> | undefined;
  private watching: AbortController | undefined;
  /** Ends the current wait (a back-off, or a watch) at once: set while waiting. */
  private wake: (() => void) | undefined;

  constructor(private readonly options: ReducedListWatchOptions<T>) {}

  /** Has a complete list arrived (after which it answers, however stale, until stopped)? */
  isSynced(): boolean {
    return this.synced;
  }

  get(namespace: string, name: string): T | undefined {
    return this.entries.get(entryKey(namespace, name))?.value;
  }

  values(): T[] {
    return [...this.entries.values()].map((entry) => entry.value);
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Starts listing and watching. Resolves when the first complete list has arrived; rejects
   * if that list fails, while the cache keeps trying in the background until `stop`.
   */
  start(): Promise<void> {
    if (!this.stopped && this.first) return this.first;
    this.stopped = false;
    let settle: ((error?: unknown) => void) | undefined;
    this.first = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(error));
    });
    this.loop = this.run((error) => {
      settle?.(error);
      settle = undefined;
    });
    return this.first;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watching?.abort();
    this.wake?.();
    await this.loop;
  }

  private async run(firstList: (error?: unknown) => void): Promise<void> {
    let retryMs = 0;
    const backOff = (what: "list" | "watch", error: unknown) => {
      retryMs = Math.min(Math.max(retryMs * 2, FIRST_RETRY_MS), MAX_RETRY_MS);
      this.options.onTrouble?.(what, error, retryMs);
    };
    while (!this.stopped) {
      if (retryMs > 0) await this.sleep(retryMs);
      if (this.stopped) break;
      if (this.resourceVersion === "") {
        try {
          await this.list();
          firstList();
          retryMs = 0;
        } catch (error) {
          firstList(error);
          if (this.stopped) break;
          backOff("list", error);
          continue;
        }
      }
      if (this.stopped) break;
      const ended = await this.watchOnce();
      if (this.stopped) break;
      if (ended.gone) {
        this.resourceVersion = ""; // too old: list again, at once
        retryMs = 0;
      } else if (ended.error !== undefined && !isIdleTimeout(ended.error)) {
        backOff("watch", ended.error);
      } else if (ended.events === 0 && ended.ms < 1000) {
        // Closed at once with nothing said: do not hammer a server that does this.
        backOff("watch", new Error("the API server closed the watch at once"));
      } else {
        retryMs = 0;
      }
    }
  }

  /** Lists page by page into a new map; replaces the old one when the list is complete. */
  private async list(): Promise<void> {
    const limit = this.options.pageSize ?? PAGE_SIZE;
    let fresh = new Map<string, Entry<T>>();
    let continueToken: string | undefined;
    let restarts = 0;
    for (;;) {
      let page: ListPage;
      this.options.onList?.();
      try {
        page = await this.options.listPage(limit, continueToken);
      } catch (error) {
        // The snapshot a continue token reads expires (410) when paging takes too long: the
        // API server says to start over.
        if (statusCode(error) !== 410 || continueToken === undefined) throw error;
        if (++restarts > 3) throw new Error("the list kept expiring while it was paged");
        fresh = new Map();
        continueToken = undefined;
        continue;
      }
      for (const item of page.items ?? []) this.keep(fresh, item as KubeObject);
      continueToken = page.metadata?.continue || undefined;
      if (continueToken === undefined) {
        this.replaceAll(fresh, page.metadata?.resourceVersion ?? "");
        return;
      }
      if (this.stopped) throw new Error("stopped");
      // Let admissions in between pages: a long list must not hold the event loop.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private replaceAll(fresh: Map<string, Entry<T>>, resourceVersion: string): void {
    const old = this.entries;
    let changed = old.size !== fresh.size;
    if (!changed) {
      for (const [key, entry] of fresh) {
        const before = old.get(key);
        if (!before || !isDeepStrictEqual(before.value, entry.value)) {
          changed = true;
          break;
        }
      }
    }
    this.entries = fresh;
    this.resourceVersion = resourceVersion;
    this.synced = true;
    this.options.onListed?.(fresh.size);
    if (changed) this.options.onChange?.();
  }

  /** Reduces an object into `into`; says whether what is kept of it changed. */
  private keep(into: Map<string, Entry<T>>, object: KubeObject): boolean {
    const name = object.metadata?.name;
    if (!name) return false;
    const key = entryKey(object.metadata?.namespace ?? "", name);
    const value = this.options.reduce(object);
    const before = into.get(key);
    if (value === undefined) return into.delete(key);
    into.set(key, {
      value,
      resourceVersion: stringField(object, "metadata", "resourceVersion") ?? "",
    });
    return !before || !isDeepStrictEqual(before.value, value);
  }

  private watchOnce(): Promise<{ gone: boolean; error: unknown; events: number; ms: number }> {
    const started = Date.now();
    let gone = false;
    let failure: Error | undefined;
    let events = 0;
    let ended = false;
    return new Promise((resolve) => {
      // On stop: stop waiting now, even if the watch has not connected yet (then it is
      // aborted as soon as it has).
      this.wake = () => done(new Error("stopped"));
      const done = (error: unknown) => {
        if (ended) return;
        ended = true;
        this.wake = undefined;
        this.watching = undefined;
        resolve({
          gone: gone || statusCode(error) === 410 || statusOf(error) === 410,
          error: error ?? failure,
          events,
          ms: Date.now() - started,
        });
      };
      const onEvent = (phase: string, object: unknown) => {
        events++;
        if (phase === "ERROR") {
          // kube-apiserver says "410 Gone" (resourceVersion too old) this way, then closes.
          const code = field(object, "code");
          if (code === 410) gone = true;
          else failure = new Error(`the watch ended with an error (${String(code ?? "no code")})`);
          return;
        }
        if (phase === "ADDED" || phase === "MODIFIED") {
          if (this.keep(this.entries, object as KubeObject)) this.options.onChange?.();
        } else if (phase === "DELETED") {
          const name = stringField(object, "metadata", "name");
          const namespace = stringField(object, "metadata", "namespace") ?? "";
          if (name && this.entries.delete(entryKey(namespace, name))) this.options.onChange?.();
        } else if (phase !== "BOOKMARK") {
          return;
        }
        const resourceVersion = stringField(object, "metadata", "resourceVersion");
        if (resourceVersion) this.resourceVersion = resourceVersion;
      };
      const timeoutSeconds = WATCH_SECONDS + Math.floor(Math.random() * WATCH_JITTER_SECONDS);
      this.options.watch
        .watch(
          this.options.path,
          { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
          onEvent,
          done,
        )
        .then(
          (controller) => {
            if (this.stopped) controller.abort();
            else if (!ended) this.watching = controller;
          },
          (error: unknown) => done(error),
        );
    });
  }

  /** Waits `ms`, or less if stopped meanwhile. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      timer.unref();
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }
}

const entryKey = (namespace: string, name: string): string => `${namespace}/${name}`;

/** client-node's Watch reports a non-200 answer as an Error with `statusCode`. */
function statusOf(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof code === "number" ? code : undefined;
}

/** The Watch gave up on a connection on which nothing arrived for `requestTimeoutMs`. */
function isIdleTimeout(error: unknown): boolean {
  return (error as { name?: unknown } | undefined)?.name === "TimeoutError";
}
