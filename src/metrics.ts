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

  constructor(registry: Prom.Registry) {
    const p = promClient();
    const reg = { registers: [registry] };
    const ab = ['agent', 'backend'] as const;
    const abo = ['agent', 'backend', 'op'] as const;
    this.txBytes = new p.Counter({
      name: 'nixl_agent_tx_bytes_total',
      help: 'Bytes written to peers by completed WRITE transfers (NIXL agent_tx_bytes)',
      labelNames: ab,
      ...reg,
    });
    this.rxBytes = new p.Counter({
      name: 'nixl_agent_rx_bytes_total',
      help: 'Bytes read from peers by completed READ transfers (NIXL agent_rx_bytes)',
      labelNames: ab,
      ...reg,
    });
    this.txRequests = new p.Counter({
      name: 'nixl_agent_tx_requests_num_total',
      help: 'Completed WRITE transfers (NIXL agent_tx_requests_num)',
      labelNames: ab,
      ...reg,
    });
    this.rxRequests = new p.Counter({
      name: 'nixl_agent_rx_requests_num_total',
      help: 'Completed READ transfers (NIXL agent_rx_requests_num)',
      labelNames: ab,
      ...reg,
    });
    this.xferTime = new p.Histogram({
      name: 'nixl_agent_xfer_time_seconds',
      help: 'From the start of a post to its completion (NIXL agent_xfer_time)',
      labelNames: abo,
      buckets: TIME_BUCKETS,
      ...reg,
    });
    this.postTime = new p.Histogram({
      name: 'nixl_agent_xfer_post_time_seconds',
      help: 'Time spent in postXferReq (NIXL agent_xfer_post_time)',
      labelNames: abo,
      buckets: TIME_BUCKETS,
      ...reg,
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
    // Label children by backend and op, looked up once rather than per completion.
    const children = new Map<string, (bytes: number, postS: number, xferS: number) => void>();
    const child = (backend: string, op: 'READ' | 'WRITE') => {
      const labels = { agent, backend };
      const bytes = (op === 'WRITE' ? m.txBytes : m.rxBytes).labels(labels);
      const reqs = (op === 'WRITE' ? m.txRequests : m.rxRequests).labels(labels);
      const time = m.xferTime.labels({ ...labels, op });
      const post = m.postTime.labels({ ...labels, op });
      const record = (n: number, postS: number, xferS: number) => {
        bytes.inc(n);
        reqs.inc();
        time.observe(xferS);
        post.observe(postS);
      };
      children.set(backend + op, record);
      return record;
    };
    return {
      xferDone(req: XferRequest, postUs: number, xferUs: number) {
        const record = children.get(req.backend.type + req.op) ?? child(req.backend.type, req.op);
        record(req.totalBytes, postUs / 1e6, xferUs / 1e6);
      },
      xferError(req: XferRequest, err: NixlError) {
        m.errors.inc({ agent, backend: req.backend.type, status: err.code });
      },
      detach() {
        if (m.#sources.get(agent) === source) m.#sources.delete(agent);
      },
    };
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
