/**
 * etcd's gRPC request counters from its /metrics, for the scale benchmark's
 * etcd runs: unary requests by method (grpc_server_handled_total), streams
 * opened (grpc_server_started_total) and messages received on them
 * (grpc_server_msg_received_total).
 */
import type { EtcdServer } from '../../test/etcd/etcd-server.js';

/** etcd's gRPC counters at one moment: method → count. */
export interface EtcdCounters {
  unary: Map<string, number>;
  streams: Map<string, number>;
  streamMsgs: Map<string, number>;
}

export async function etcdCounters(server: EtcdServer): Promise<EtcdCounters> {
  const text = await (await fetch(`${server.endpoint}/metrics`)).text();
  const c: EtcdCounters = { unary: new Map(), streams: new Map(), streamMsgs: new Map() };
  for (const line of text.split('\n')) {
    const m = /^(grpc_server_\w+)\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries(
      [...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]),
    );
    const method = labels.grpc_method!;
    const v = Number(m[3]);
    const add = (map: Map<string, number>) => map.set(method, (map.get(method) ?? 0) + v);
    if (m[1] === 'grpc_server_handled_total' && labels.grpc_type === 'unary') add(c.unary);
    if (m[1] === 'grpc_server_started_total' && labels.grpc_type === 'bidi_stream') add(c.streams);
    if (m[1] === 'grpc_server_msg_received_total' && labels.grpc_type === 'bidi_stream')
      add(c.streamMsgs);
  }
  return c;
}

export function diffCounters(a: EtcdCounters, b: EtcdCounters): EtcdCounters {
  const d = (x: Map<string, number>, y: Map<string, number>) => {
    const out = new Map<string, number>();
    for (const [k, v] of y) if (v - (x.get(k) ?? 0) > 0) out.set(k, v - (x.get(k) ?? 0));
    return out;
  };
  return {
    unary: d(a.unary, b.unary),
    streams: d(a.streams, b.streams),
    streamMsgs: d(a.streamMsgs, b.streamMsgs),
  };
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((x, y) => x + y, 0);
const list = (m: Map<string, number>) =>
  [...m]
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

/** `unary N (Range 3, ...) | streams N (...) | stream msgs N (...)`. */
export function formatCounters(c: EtcdCounters): string {
  return (
    `unary ${sum(c.unary)} (${list(c.unary)}) | streams ${sum(c.streams)} (${list(c.streams)}) | ` +
    `stream msgs ${sum(c.streamMsgs)} (${list(c.streamMsgs)})`
  );
}
