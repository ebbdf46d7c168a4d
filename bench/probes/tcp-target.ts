// The setup the TCP probes share: this process's agent with a TCP backend,
// connected to a target agent in a child process (testing/peer-harness.ts),
// 1 MiB registered on each side.
import { Agent } from '../../src/agent.js';
import type { TcpBackend } from '../../backends/tcp/index.js';
import { PeerProcess } from '../../testing/peer-harness.js';

/** Backend params for both sides: port 0, same_host off, then PARAMS=k=v,k=v from the environment. */
export function probeParams(): Record<string, string> {
  const params: Record<string, string> = { port: '0', same_host: 'off' };
  for (const kv of (process.env.PARAMS ?? '').split(',').filter(Boolean)) {
    const [k, v] = kv.split('=');
    params[k] = v;
  }
  return params;
}

export interface TcpTarget {
  agent: Agent;
  tcp: TcpBackend;
  peer: PeerProcess;
  /** This side's registered buffer. */
  local: { addr: bigint };
  /** The target's registered buffer. */
  remoteAddr: bigint;
  /** Closes the agent and kills the target. */
  close(): Promise<void>;
}

export async function connectToTcpTarget(params: Record<string, string>): Promise<TcpTarget> {
  const size = 1 << 20;
  const peer = new PeerProcess();
  const init = await peer.send(
    { cmd: 'init', backend: 'TCP', params, plugins: [], size, name: 'target' },
    30_000,
  );
  const agent = await Agent.create({ name: 'probe', backends: [{ type: 'TCP', params }] });
  const { buffer, desc } = agent.alloc(size);
  agent.registerMem(buffer);
  agent.loadRemoteMD(Buffer.from(init.md!, 'base64'));
  await agent.makeConnection('target');
  const tcp = agent.backends.find((b) => b.type === 'TCP') as TcpBackend;
  return {
    agent,
    tcp,
    peer,
    local: desc,
    remoteAddr: BigInt(init.addr!),
    async close() {
      await agent.close();
      peer.signal('SIGKILL');
      await peer.waitForExit(10_000).catch(() => {});
    },
  };
}
