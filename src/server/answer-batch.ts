import type { ServerResponse } from "node:http";

/** Writes an answer's body to its response: `res.end(text)`, perhaps a little later. */
export type EndAnswer = (res: ServerResponse, text: string) => void;

/**
 * Answers are sent at the end of the event loop's turn, all of that turn's answers one after
 * another, instead of each as soon as it is made.
 *
 * Why: writing an answer to a socket wakes the peer waiting to read it (the API server's
 * network poller). When the peer's core has gone idle meanwhile, the wake-up is most of the
 * write's cost on a virtual machine, where it is an interrupt sent to another core: profiled
 * on the bench machine under load, a write took ~12 µs of CPU for the bare server and ~46 µs
 * for a br-ent Job's answer, made a little later (bench/README.md, tenth pass). Answers
 * written back to back wake the peer once; the later writes find it awake. An answer waits
 * only for the rest of its turn's work (the other requests that arrived together with it);
 * alone in its turn, for nothing but the turn's end.
 *
 * `schedule` is `setImmediate`: its callbacks run once the turn's ready sockets have been
 * read and their synchronous answers made. `failed` hears of an answer that could not be
 * written (`end` threw: a bug of ours, such as a wrong content-length), whose connection is
 * then closed: the API server sees it fail rather than wait.
 */
export function batchedAnswers(
  failed: (error: unknown) => void,
  schedule: (flush: () => void) => void = setImmediate,
): EndAnswer {
  let pending: [ServerResponse, string][] = [];
  const flush = () => {
    const answers = pending;
    pending = [];
    for (const [res, text] of answers) {
      // One answer's failure must not keep the others from being sent, nor escape from here
      // (a throw in an immediate would end the process). A closed socket does not throw.
      try {
        res.end(text);
      } catch (error) {
        res.destroy();
        failed(error);
      }
    }
  };
  return (res, text) => {
    if (pending.push([res, text]) === 1) schedule(flush);
  };
}
