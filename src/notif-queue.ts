/** One notification as a backend delivers it. */
export interface Notif {
  readonly agent: string;
  readonly msg: Uint8Array;
}

/** Where pushed notifications go: the agent's 'notif' event. */
export interface NotifListeners {
  /** True while someone listens for 'notif' (then nothing is queued). */
  active(): boolean;
  emit(agent: string, msg: Uint8Array): void;
}

/**
 * The notifications an agent received and the user has not taken yet.
 * A backend hands over a batch (BackendComponents.onNotifs); each one goes
 * to the 'notif' listeners if there are any, else into the queue, grouped
 * by sender in arrival order, until getNotifs drains it.
 */
export class NotifQueue {
  readonly #queue = new Map<string, Uint8Array[]>();
  readonly #listeners: NotifListeners;

  constructor(listeners: NotifListeners) {
    this.#listeners = listeners;
  }

  /** Notifications waiting to be drained, all senders together. */
  get pending(): number {
    let n = 0;
    for (const q of this.#queue.values()) n += q.length;
    return n;
  }

  /** Takes one batch from a backend: pushed to listeners, or queued. */
  deliver(batch: readonly Notif[]): void {
    // Decided once per batch: a listener added by a handler sees the next batch.
    const push = this.#listeners.active();
    for (const { agent, msg } of batch) {
      if (push) this.#listeners.emit(agent, msg);
      else {
        const q = this.#queue.get(agent);
        if (q) q.push(msg);
        else this.#queue.set(agent, [msg]);
      }
    }
  }

  /** Moves every queued notification into `into` (appending per sender) and returns it. */
  drain(into: Map<string, Uint8Array[]> = new Map()): Map<string, Uint8Array[]> {
    for (const [agent, msgs] of this.#queue) {
      const list = into.get(agent);
      if (list) list.push(...msgs);
      else into.set(agent, msgs);
    }
    this.#queue.clear();
    return into;
  }

  clear(): void {
    this.#queue.clear();
  }
}
