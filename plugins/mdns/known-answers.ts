/**
 * Known-answer suppression (RFC 6762 §7.1): a question lists the answers its
 * asker already holds, and a responder it lists stays silent.
 *
 * A cluster start asks every agent's question again 1 and 3 s after the
 * first, each answered by every other agent, while the asker's answer filter
 * drops every answer it heard within the last half period: at 32 agents two
 * waves of ~1000 unicast answers, each built, sent, read and decoded, in the
 * seconds the agents are handshaking and flooding their records. The asker
 * now lists the instances its filter would drop, and only agents it has not
 * heard lately (those that came up since) answer.
 *
 * The question is written here byte by byte, for DNS name compression: a
 * known answer is then 47 bytes (its name a pointer to the question's, its
 * data one label and a pointer), so 30 fit in one Ethernet frame;
 * dns-packet writes every name in full (105 bytes a record). A responder
 * looks for its own instance label in the raw question before anything is
 * decoded: a listed agent spends no decode on a question it will not answer.
 */

/** The largest question: one Ethernet frame's UDP payload, so a question is never fragmented. */
export const MAX_QUESTION_BYTES = 1472;

const TYPE_PTR = 12;
const CLASS_IN = 1;
/** A compression pointer to the question's name, which starts right after the 12-byte header. */
const POINTER_TO_QUESTION = [0xc0, 0x0c];

/**
 * The PTR question for `serviceTag`, listing as known answers the instances
 * given (newest first: those past MAX_QUESTION_BYTES are left out, and answer).
 * Each is `<label>.<serviceTag>`; any other name is left out. `ttlS` is the
 * remaining TTL written with each (RFC 6762 §7.1: at least half the answer's).
 */
export function questionWithKnownAnswers(
  serviceTag: string,
  instances: Iterable<string>,
  ttlS: number,
): Buffer {
  const name = encodeName(serviceTag);
  const head = Buffer.alloc(12 + name.length + 4);
  name.copy(head, 12);
  head.writeUInt16BE(1, 4); // one question
  head.writeUInt16BE(TYPE_PTR, 12 + name.length);
  head.writeUInt16BE(CLASS_IN, 12 + name.length + 2);
  const records: Buffer[] = [];
  let bytes = head.length;
  const suffix = `.${serviceTag}`;
  for (const instance of instances) {
    if (!instance.endsWith(suffix)) continue;
    const label = Buffer.from(instance.slice(0, -suffix.length), 'utf8');
    if (label.length === 0 || label.length > 63 || label.includes(0x2e)) continue;
    const rdata = 1 + label.length + 2;
    const record = Buffer.alloc(2 + 2 + 2 + 4 + 2 + rdata);
    let o = 0;
    for (const b of POINTER_TO_QUESTION) record[o++] = b;
    o = record.writeUInt16BE(TYPE_PTR, o);
    o = record.writeUInt16BE(CLASS_IN, o);
    o = record.writeUInt32BE(ttlS, o);
    o = record.writeUInt16BE(rdata, o);
    record[o++] = label.length;
    o += label.copy(record, o);
    for (const b of POINTER_TO_QUESTION) record[o++] = b;
    if (bytes + record.length > MAX_QUESTION_BYTES) break;
    records.push(record);
    bytes += record.length;
  }
  head.writeUInt16BE(records.length, 6); // known answers
  return Buffer.concat([head, ...records], bytes);
}

/**
 * True when `packet` is a query that names `label` (an agent's instance
 * label, 128 random bits in hex): only a known answer puts it in a question
 * for the service, so that agent need not answer. Read from the raw bytes,
 * before the packet is decoded.
 */
export function listsKnownAnswer(packet: Buffer, label: Buffer): boolean {
  if (packet.length < 12 || (packet[2]! & 0x80) !== 0) return false;
  return packet.indexOf(label, 12) !== -1;
}

/** A DNS name as labels, uncompressed. */
function encodeName(name: string): Buffer {
  const parts: Buffer[] = [];
  for (const label of name.split('.')) {
    if (!label) continue;
    const b = Buffer.from(label, 'utf8');
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}
