import { Agent } from '../../src/agent.js';
import { TcpPeer } from './tcp-peer-process.js';

/**
 * An in-process TCP initiator and a target agent in its own process, each with
 * the other's metadata loaded and the connection made. One suite's worth:
 * `setUp` makes a fresh pair, `closeAll` (in afterEach) ends every agent and
 * process made or `track`ed since.
 */
export function initiatorTargetPairs(
  prefix: string,
  region: number,
  params: Record<string, string>,
) {
  const peers: TcpPeer[] = [];
  let agent: Agent | undefined;
  return {
    async setUp(tag: string, targetParams = params) {
      const a = await Agent.create({
        name: `${prefix}-${tag}-${process.pid}`,
        backends: [{ type: 'TCP', params }],
      });
      agent = a;
      const local = a.alloc(region).buffer;
      const localBase = a.registerMem(local).descs.at(0).addr;
      const target = await TcpPeer.start(
        `${prefix}-target-${tag}-${process.pid}`,
        region,
        targetParams,
      );
      peers.push(target);
      a.loadRemoteMD(target.mdBytes);
      await target.send({ cmd: 'load', md: Buffer.from(a.getLocalMD()).toString('base64') });
      await a.makeConnection(target.name);
      return { a, target, local, localBase };
    },
    /** Another process to end with the pair. */
    track(p: TcpPeer): void {
      peers.push(p);
    },
    async closeAll(): Promise<void> {
      for (const p of peers.splice(0)) await p.close();
      await agent?.close();
      agent = undefined;
    },
  };
}
