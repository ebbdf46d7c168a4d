/**
 * How long a backend keeps the event loop alive after a notification left.
 *
 * An idle agent never keeps a process alive (native/LIFETIME.md), and a
 * transfer keeps it alive only until it settles. A notification, though,
 * reaches its target after the transfer settled (or after genNotif returned);
 * when the target is an agent of the same process (tests, demos, one process
 * serving several roles), the process would end before the target saw it.
 * Lingering a little after each notification closes that gap at a bounded
 * cost: a script ends at most this long after its last notification.
 */
export const NOTIF_LINGER_MS = 250;

/** One ref'd timer, restarted by every notification; holds nothing but itself. */
export class NotifLinger {
  #timer: NodeJS.Timeout | undefined;

  /** A notification left: keep the event loop alive a little longer. */
  extend(): void {
    if (this.#timer) {
      this.#timer.refresh();
      return;
    }
    this.#timer = setTimeout(() => (this.#timer = undefined), NOTIF_LINGER_MS);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
