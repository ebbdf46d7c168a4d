/**
 * Fewer yamux window updates on a stream that receives many small messages.
 *
 * `@libp2p/yamux` answers every data frame it receives with a window update
 * frame (credit for the bytes just read), so each small message costs a
 * frame back: on the sender, a socket read, decryption and demultiplexing;
 * on the receiver, an encryption and often a socket write of its own. This
 * makes an established stream send its update only once half of its receive
 * window is used (go-yamux's rule); the sender still has half a window
 * (128 KiB at least) in hand, so it is never held back. Flags (the SYN/ACK of
 * a stream being opened) and a paused stream still go through yamux's own
 * code. The wire is unchanged: when to grant credit is the receiver's choice.
 */
import { StreamState } from '@libp2p/yamux/stream';

interface YamuxStreamFields {
  state?: unknown;
  recvWindow?: unknown;
  recvWindowCapacity?: unknown;
  sendWindowUpdate?: unknown;
}

/** Applies the rule to one yamux stream; false (and nothing changed) if `stream` is not one. */
export function halfWindowUpdates(stream: unknown): boolean {
  const s = stream as YamuxStreamFields;
  if (
    typeof s.sendWindowUpdate !== 'function' ||
    typeof s.recvWindow !== 'number' ||
    typeof s.recvWindowCapacity !== 'number'
  )
    return false;
  const sendWindowUpdate = s.sendWindowUpdate.bind(stream) as () => void;
  s.sendWindowUpdate = () => {
    const established = s.state === StreamState.Established;
    if (established && (s.recvWindowCapacity as number) >= (s.recvWindow as number) / 2) return;
    sendWindowUpdate();
  };
  return true;
}
