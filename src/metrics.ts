import { createRequire } from 'node:module';

import type * as Prom from 'prom-client';

import type { NixlError } from './errors.js';
import { NotSupportedError } from './errors.js';
import type { XferObserver } from './xfer-observer.js';
import type { XferRequest } from './xfer-request.js';

/**
 * Prometheus metrics through prom-client (an optional peer dependency, loaded
 * only here). Names are NIXL's telemetry event names with a `nixl_` prefix
 * (see README, Metrics); times are in seconds, as Prometheus prefers, where
 * NIXL's events carry µs. Transfers update counters once per completion.
 */

/** Bounds of the time histograms, in seconds: 10 µs to 10 s. */
const TIME_BUCKETS = [
  1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1,
  2.5, 5, 10,
];

function promClient(): typeof Prom {
  try {
    return createRequire(import.meta.url)('prom-client') as typeof Prom;
  } catch (err) {
    throw new NotSupportedError(
      "metrics need the optional peer dependency prom-client: run 'npm install prom-client'",
      { op: 'metrics', cause: err },
    );
  }
}

/** What the gauges read of an agent at scrape time: per backend type. */
export interface MetricsSource {
  memoryRegistered(): Map<string, number>;
  peersConnected(): Map<string, number>;
}

/** An agent's tie to the metrics: the observer its requests report to. */
export interface AgentMetrics extends XferObserver {
  /** Stops reporting the agent's gauges (its counters stay, as Prometheus expects). */
  detach(): void;
}

/** nixl_* metric families registered once in one prom-client Registry, shared by its agents. */
export class NixlMetrics {
  readonly txBytes: Prom.Counter<'agent' | 'backend'>;
  readonly rxBytes: Prom.Counter<'agent' | 'backend'>;
  readonly txRequests: Prom.Counter<'agent' | 'backend'>;
  readonly rxRequests: Prom.Counter<'agent' | 'backend'>;
  readonly xferTime: Prom.Histogram<'agent' | 'backend' | 'op'>;
  readonly postTime: Prom.Histogram<'agent' | 'backend' | 'op'>;
  readonly errors: Prom.Counter<'agent' | 'backend' | 'status'>;
  readonly memoryRegistered: Prom.Gauge<'agent' | 'backend'>;
  readonly peersConnected: Prom.Gauge<'agent' | 'backend'>;
  readonly #sources = new Map<string, MetricsSource>();
  readonly #pending = new Set<Pending>();

  constructor(registry: Prom.Registry) {
    const p = promClient();
    const reg = { registers: [registry] };
    // A scrape first hands over the completions recorded since the last one.
    const xfer = { ...reg, collect: () => this.flush() };
    const ab = ['agent', 'backend'] as const;
    const abo = ['agent', 'backend', 'op'] as const;
    this.txBytes = new p.Counter({
      name: 'nixl_agent_tx_bytes_total',
      help: 'Bytes written to peers by completed WRITE transfers (NIXL agent_tx_bytes)',
      labelNames: ab,
      ...xfer,
    });
    this.rxBytes = new p.Counter({
      name: 'nixl_agent_rx_bytes_total',
      help: 'Bytes read from peers by completed READ transfers (NIXL agent_rx_bytes)',
      labelNames: ab,
      ...xfer,
    });
    this.txRequests = new p.Counter({
      name: 'nixl_agent_tx_requests_num_total',
      help: 'Completed WRITE transfers (NIXL agent_tx_requests_num)',
      labelNames: ab,
      ...xfer,
    });
    this.rxRequests = new p.Counter({
      name: 'nixl_agent_rx_requests_num_total',
      help: 'Completed READ transfers (NIXL agent_rx_requests_num)',
      labelNames: ab,
      ...xfer,
    });
    this.xferTime = new p.Histogram({
      name: 'nixl_agent_xfer_time_seconds',
      help: 'From the start of a post to its completion (NIXL agent_xfer_time)',
      labelNames: abo,
      buckets: TIME_BUCKETS,
      ...xfer,
    });
    this.postTime = new p.Histogram({
      name: 'nixl_agent_xfer_post_time_seconds',
      help: 'Time spent in postXferReq (NIXL agent_xfer_post_time)',
      labelNames: abo,
      buckets: TIME_BUCKETS,
      ...xfer,
    });
    this.errors = new p.Counter({
      name: 'nixl_agent_errors_total',
      help: 'Transfers that ended in an error, by NIXL status (NIXL agent_err_* events)',
      labelNames: ['agent', 'backend', 'status'],
      ...reg,
    });
    const sources = this.#sources;
    // Gauges read the agents at scrape time: nothing is paid between scrapes.
    const gauge = (name: string, help: string, read: (s: MetricsSource) => Map<string, number>) =>
      new p.Gauge({
        name,
        help,
        labelNames: ab,
        ...reg,
        collect() {
          this.reset();
          for (const [agent, s] of sources)
            for (const [backend, v] of read(s)) this.set({ agent, backend }, v);
        },
      });
    this.memoryRegistered = gauge(
      'nixl_agent_memory_registered_bytes',
      'Bytes registered with each backend now (NIXL agent_memory_registered)',
      (s) => s.memoryRegistered(),
    );
    this.peersConnected = gauge(
      'nixl_agent_peers_connected',
      'Peers whose metadata is loaded with connection info for the backend',
      (s) => s.peersConnected(),
    );
  }

  /** Starts reporting one agent; its requests call the returned observer. */
  attach(agent: string, source: MetricsSource): AgentMetrics {
    this.#sources.set(agent, source);
    const m = this;
    const children = new Map<string, Pending>();
    const child = (backend: string, op: 'READ' | 'WRITE'): Pending => {
      const labels = { agent, backend };
      const p = new Pending(
        (op === 'WRITE' ? m.txBytes : m.rxBytes).labels(labels),
        (op === 'WRITE' ? m.txRequests : m.rxRequests).labels(labels),
        m.xferTime.labels({ ...labels, op }),
        m.postTime.labels({ ...labels, op }),
      );
      children.set(backend + op, p);
      m.#pending.add(p);
      return p;
    };
    return {
      xferDone(req: XferRequest, postUs: number, xferUs: number) {
        const p = children.get(req.backend.type + req.op) ?? child(req.backend.type, req.op);
        p.add(req.totalBytes, postUs / 1e6, xferUs / 1e6);
      },
      xferError(req: XferRequest, err: NixlError) {
        m.errors.inc({ agent, backend: req.backend.type, status: err.code });
      },
      detach() {
        for (const p of children.values()) p.flush();
        if (m.#sources.get(agent) === source) m.#sources.delete(agent);
      },
    };
  }

  /** Hands every completion recorded since the last scrape to prom-client. */
  flush(): void {
    for (const p of this.#pending) p.flush();
  }
}

const PENDING_SAMPLES = 1024;

/**
 * Completions of one (agent, backend, op) not yet given to prom-client: its
 * calls hash their labels each time (microseconds), so the hot path only
 * adds to numbers and arrays, and a scrape (or a full array) hands them over.
 */
class Pending {
  #bytes = 0;
  #count = 0;
  readonly #post = new Float64Array(PENDING_SAMPLES);
  readonly #xfer = new Float64Array(PENDING_SAMPLES);

  constructor(
    readonly bytes: Prom.Counter.Internal,
    readonly reqs: Prom.Counter.Internal,
    readonly time: Prom.Histogram.Internal<string>,
    readonly post: Prom.Histogram.Internal<string>,
  ) {}

  add(bytes: number, postS: number, xferS: number): void {
    const i = this.#count;
    this.#bytes += bytes;
    this.#post[i] = postS;
    this.#xfer[i] = xferS;
    if (++this.#count === PENDING_SAMPLES) this.flush();
  }

  flush(): void {
    const n = this.#count;
    if (n === 0) return;
    this.bytes.inc(this.#bytes);
    this.reqs.inc(n);
    for (let i = 0; i < n; i++) {
      this.time.observe(this.#xfer[i]!);
      this.post.observe(this.#post[i]!);
    }
    this.#bytes = 0;
    this.#count = 0;
  }
}

const byRegistry = new WeakMap<Prom.Registry, NixlMetrics>();

/**
 * The nixl_* metrics in a prom-client Registry, registered on the first call
 * and shared after (prom-client refuses a name twice in one registry). Agents
 * created with `metrics: registry` report into them.
 */
export function registerMetrics(registry: Prom.Registry): NixlMetrics {
  let m = byRegistry.get(registry);
  if (!m) {
    m = new NixlMetrics(registry);
    byRegistry.set(registry, m);
  }
  return m;
}
