/**
 * The plugin's hold on the event loop. Its gRPC sessions never keep the
 * process alive (client.ts), so that an idle agent lets a script end; while
 * the user awaits one of its calls (start, close, sendLocalMD, fetchRemoteMD,
 * ...) it holds the loop open itself, or the process would end with the
 * call unsettled. Background work (the lease keep-alive, the watch, retries)
 * holds nothing.
 */
export class Liveness {
  #count = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Runs `fn` with the event loop held open until it settles. */
  async hold<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#count++ === 0) this.#timer = setInterval(() => {}, 2 ** 30);
    try {
      return await fn();
    } finally {
      if (--this.#count === 0) clearInterval(this.#timer);
    }
  }
}
