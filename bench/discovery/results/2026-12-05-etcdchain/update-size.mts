/**
 * Bytes of the etcd `update` value for single-region registrations of an
 * agent (TCP backend) that holds 64 regions: the single-link form (before)
 * and a full chain of 8 links (after), beside the full metadata.
 * Run: npx tsx bench/discovery/results/2026-12-05-etcdchain/update-size.mts
 */
import { Agent } from '../../../../src/agent.js';
import { RegDescList } from '../../../../src/descriptors.js';
import { UPDATE_CHAIN_LINKS } from '../../../../plugins/etcd/update.js';

const a = await Agent.create({ name: 'sizer', backends: ['TCP'] });
for (let i = 0; i < 64; i++) a.registerMem(a.alloc(64 << 10).buffer);
const full64 = a.getLocalMD().byteLength;
const d = a.registerMem(a.alloc(64 << 10).buffer).descs.at(0);
const one = new RegDescList('DRAM');
one.addRegion(d.addr, d.len, d.devId);
const partial = a.getLocalPartialMD(one).byteLength;
console.log(
  JSON.stringify({
    fullMetadata64Regions: full64,
    fullMetadata65Regions: a.getLocalMD().byteLength,
    partialOneRegion: partial,
    singleLinkUpdate: 32 + partial,
    fullChainUpdate: 4 + UPDATE_CHAIN_LINKS * (32 + 4 + partial),
  }),
);
await a.close();
