/**
 * At most `limit` S3 requests in flight per backend; the rest wait in FIFO
 * order. A waiter whose signal aborts leaves the queue at once (rejecting
 * with the signal's reason), so a failed or released transfer never leaves
 * requests queued behind the ones still running.
 */
export class RequestLimit {
  readonly #limit: number;
  #running = 0;
  readonly #waiting = new Set<() => void>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  async run<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    signal.throwIfAborted();
    if (this.#running >= this.#limit) await this.#turn(signal);
    this.#running++;
    try {
      return await fn();
    } finally {
      this.#running--;
      const next = this.#waiting.values().next();
      if (!next.done) {
        this.#waiting.delete(next.value);
        next.value();
      }
    }
  }

  #turn(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const go = () => {
        signal.removeEventListener('abort', leave);
        resolve();
      };
      const leave = () => {
        this.#waiting.delete(go);
        reject(signal.reason);
      };
      this.#waiting.add(go);
      signal.addEventListener('abort', leave, { once: true });
    });
  }
}
