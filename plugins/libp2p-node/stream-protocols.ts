/**
 * libp2p writes every stream's protocol into the peer store, on both ends, for
 * every stream opened or accepted (its connection's newStream and
 * onIncomingStream): a per-peer write lock, a datastore read and protobuf
 * decode, and an encode to compare, per stream. Only readers of a peer's
 * protocols need it: identify and the registrar's topologies (gossipsub's).
 * A control node with neither (the discovery mesh's: identify and pubsub off)
 * never reads them, so its stream bookkeeping is dropped here (and with it the
 * registrar's record of the node's own protocols on `handle`, which only
 * identify reads too; `getProtocols()` asks the registrar itself); every other
 * peer-store write (addresses to dial, dial outcomes) is kept.
 */
import type { Libp2p, PeerData } from '@libp2p/interface';

export function dropStreamProtocolRecords(node: Libp2p): void {
  const store = node.peerStore;
  const merge = store.merge.bind(store);
  store.merge = (id, data, options) =>
    isProtocolsOnly(data)
      ? // The stream's callers await the merge and ignore the peer it returns.
        Promise.resolve(undefined as never)
      : merge(id, data, options);
}

function isProtocolsOnly(data: PeerData): boolean {
  for (const key in data) if (key !== 'protocols') return false;
  return true;
}
