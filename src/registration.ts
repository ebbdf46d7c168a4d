import type { RegDescList } from './descriptors.js';
import type { LocalRegion } from './regions.js';

/** The part of the agent a registration needs to deregister itself. */
interface Deregisterer {
  deregisterMem(reg: Registration): void;
  readonly closed: boolean;
}

/**
 * Memory registered by one registerMem call. Its descriptors are what the
 * memory's owner shares with peers; closing it deregisters (idempotent).
 */
export class Registration {
  readonly descs: RegDescList;
  readonly regions: readonly LocalRegion[];
  readonly #agent: Deregisterer;
  #closed = false;

  constructor(agent: Deregisterer, descs: RegDescList, regions: readonly LocalRegion[]) {
    this.#agent = agent;
    this.descs = descs;
    this.regions = regions;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Called by the agent once the regions are deregistered. */
  markClosed(): void {
    this.#closed = true;
  }

  /** Deregisters the memory; a no-op if already done or the agent is closed. */
  close(): void {
    if (this.#closed || this.#agent.closed) {
      this.#closed = true;
      return;
    }
    this.#agent.deregisterMem(this);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}
