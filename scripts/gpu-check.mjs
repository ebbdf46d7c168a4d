#!/usr/bin/env node
// The GPU check of issue #22, in plain Node over the built project (dist/ and
// build/Release), for a GPU machine without npm or network: run by
// scripts/gpu-check.sh from the bundle scripts/gpu-pack.sh makes.
//
//   node scripts/gpu-check.mjs           the checks and the benchmark, then a summary
//   node scripts/gpu-check.mjs --peer    (internal) the second process
//
// Exit: 0 all checks passed; 1 a check failed; 2 no usable CUDA device (the
// reason is printed); 3 the run passed its time bound.
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(join(ROOT, 'dist', p));

const { Agent, vramSupport } = await dist('src/index.js');
const { cuda } = await dist('src/vram.js');
const { native } = await dist('src/native.js');
const { VramStager } = await dist('backends/tcp/vram-stager.js');
const { VramLanding } = await dist('backends/tcp/vram-landing.js');
const { fillPattern } = await dist('testing/pattern.js');
const { serveJsonLines } = await dist('testing/json-line-server.js');
const { JsonLineChild } = await dist('testing/json-line-child.js');

const MiB = 1 << 20;
const GiB = 1 << 30;
const sha = (b) => createHash('sha256').update(b).digest('hex');

/** Hash of `len` bytes of VRAM, through a pinned host buffer. */
function hashVram(addr, len, devId = 0) {
  const c = cuda();
  const host = c.hostAlloc(len);
  c.copySync(native().addressOf(host), addr, len, 'd2h', devId);
  return sha(host);
}

// ------------------------------------------------------------------ the peer
if (process.argv.includes('--peer')) {
  let agent;
  let landing;
  let dram;
  let dramAddr = 0n;
  const vram = new Map(); // name -> VramAllocation
  const notifs = [];
  serveJsonLines(
    {
      init: async (c) => {
        agent = await Agent.create({ name: c.name, backends: ['TCP'] });
        dram = agent.alloc(c.dramBytes).buffer;
        dramAddr = agent.registerMem(dram).descs.at(0).addr;
        landing = new VramLanding(agent, { chunkBytes: 8 * MiB, slots: 4 });
        const record = (from, msg) => {
          const text = Buffer.from(msg).toString();
          // "hashvram:<name>:<len>": hash that VRAM the moment the notification arrives.
          const m = /^hashvram:(\w+):(\d+)/.exec(text);
          const at = m ? hashVram(vram.get(m[1]).desc.addr, Number(m[2])) : null;
          const p = /^peekdram:(\d+):(\d+)/.exec(text);
          const dramAt = p ? sha(dram.subarray(Number(p[1]), Number(p[1]) + Number(p[2]))) : null;
          notifs.push({ from, text, at: at ?? dramAt });
        };
        // Notifications come through the landing (it listens for its control messages).
        landing.onNotif(record);
        return {
          md: Buffer.from(agent.getLocalMD()).toString('base64'),
          dramAddr: String(dramAddr),
        };
      },
      load: (c) => ({ name: agent.loadRemoteMD(Buffer.from(c.md, 'base64')) }),
      fillDram: (c) => {
        const tmp = Buffer.alloc(c.len);
        fillPattern(tmp, c.seed);
        tmp.copy(dram, c.off);
      },
      hashDram: (c) => ({ hash: sha(dram.subarray(c.off, c.off + c.len)) }),
      vramAlloc: (c) => {
        const a = agent.alloc(c.len, { memType: 'VRAM', devId: 0 });
        cuda().memset(a.desc.addr, 0, c.len, 0);
        vram.set(c.as, a);
        const stager = VramStager.create(agent, { chunkBytes: 4 * MiB, slots: 2 });
        try {
          return { token: Buffer.from(stager.exportIpc(a.desc)).toString('base64') };
        } finally {
          void stager.close();
        }
      },
      hashVram: (c) => ({ hash: hashVram(vram.get(c.as).desc.addr, c.len) }),
      expose: (c) => ({
        token: Buffer.from(landing.expose(vram.get(c.as).desc)).toString('base64'),
      }),
      notifs: () => ({ list: notifs.splice(0) }),
      close: async () => {
        landing?.close();
        await agent?.close();
        setImmediate(() => process.exit(0));
      },
    },
    {
      errorText: (e) => String(e?.stack ?? e),
      onEnd: () => void Promise.resolve(agent?.close()).finally(() => process.exit(0)),
    },
  );
} else {
  await main();
}

// ------------------------------------------------------------------- checks
async function main() {
  const started = Date.now();
  const LIMIT_MS = 210_000;
  const watchdog = setTimeout(() => {
    console.log(`\nTIME BOUND: the run passed ${LIMIT_MS / 1000} s`);
    summary();
    process.exit(3);
  }, LIMIT_MS);
  watchdog.unref();

  const s = vramSupport();
  console.log(`nixl-ts gpu-check: node ${process.version}, ${new Date().toISOString()}`);
  console.log(
    `driver: ${s.library} version ${s.driverVersion}; devices: ${JSON.stringify(s.devices)}`,
  );
  if (!s.ok) {
    console.log(`NO DEVICE: ${s.reason}`);
    process.exit(2);
  }

  const results = [];
  const figures = [];
  async function check(name, fn) {
    const t0 = performance.now();
    try {
      const note = await fn();
      const ms = performance.now() - t0;
      results.push({ name, ok: true, ms });
      console.log(`PASS ${name} (${ms.toFixed(0)} ms)${note ? ': ' + note : ''}`);
    } catch (e) {
      results.push({ name, ok: false, ms: performance.now() - t0, error: String(e?.stack ?? e) });
      console.log(`FAIL ${name}: ${e?.stack ?? e}`);
    }
  }
  const expectEq = (a, b, what) => {
    if (a !== b) throw new Error(`${what}: ${a} != ${b}`);
  };
  const expectThrow = (fn, re, what) => {
    try {
      fn();
    } catch (e) {
      if (re.test(String(e?.message))) return String(e.message);
      throw new Error(`${what}: wrong error: ${e?.message}`);
    }
    throw new Error(`${what}: did not throw`);
  };
  function summary() {
    const failed = results.filter((r) => !r.ok);
    console.log('\n==== summary ====');
    for (const r of results) console.log(`${r.ok ? 'PASS' : 'FAIL'}  ${r.name}`);
    for (const f of figures) console.log(`FIGURE ${f}`);
    console.log(
      `${results.length - failed.length} passed, ${failed.length} failed, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }

  const c = cuda();
  const peer = new JsonLineChild(fileURLToPath(import.meta.url), 'peer', {}, { args: ['--peer'] });
  const send = (cmd, ms = 120_000) => peer.send(cmd, ms);
  const agent = await Agent.create({ name: 'gpu-a', backends: ['TCP'] });
  const DRAM_PEER = GiB + 128 * MiB;
  const init = await send({ cmd: 'init', name: 'gpu-b', dramBytes: DRAM_PEER });
  const peerDram = BigInt(init.dramAddr);
  agent.loadRemoteMD(Buffer.from(init.md, 'base64'));
  const stager = VramStager.create(agent, { chunkBytes: 8 * MiB, slots: 4 });
  // After the stager: the peer reads our staging ring for writes into its VRAM.
  await send({ cmd: 'load', md: Buffer.from(agent.getLocalMD()).toString('base64') });

  // The source of truth: 1 GiB of pattern in pinned host memory, and in VRAM.
  const src = c.hostAlloc(GiB);
  fillPattern(src, 1234);
  const srcHash = sha(src);
  const srcAddr = native().addressOf(src);
  const vA = agent.alloc(GiB, { memType: 'VRAM', devId: 0 });
  c.copySync(vA.desc.addr, srcAddr, GiB, 'h2d', 0);

  await check('driver validates device pointers and refuses the rest', () => {
    const info = c.pointerInfo(vA.desc.addr, GiB, 0);
    if (info.size < GiB) throw new Error(`allocation size ${info.size}`);
    expectThrow(() => c.pointerInfo(vA.desc.addr + 1n, GiB, 0), /runs past/, 'past the end');
    expectThrow(() => c.pointerInfo(srcAddr, 4096, 0), /host memory|not memory/, 'host pointer');
    expectThrow(
      () => agent.alloc(MiB, { memType: 'VRAM', devId: 4096 }),
      /not a CUDA device/,
      'devId',
    );
    const why = expectThrow(
      () => agent.registerMem({ addr: vA.desc.addr, len: MiB, devId: 0 }, { memType: 'VRAM' }),
      /no backend supports VRAM/,
      'registerMem',
    );
    return why;
  });

  await check('VRAM round trip through the driver (h2d, d2h) keeps every byte', () => {
    expectEq(hashVram(vA.desc.addr, GiB), srcHash, 'hash');
  });

  // Conformance-style: staged transfers of awkward sizes, both directions, each verified.
  for (const len of [1, 4095, 8 * MiB, 8 * MiB + 1, 64 * MiB + 12_345]) {
    await check(
      `staged WRITE VRAM -> peer DRAM, ${len} bytes, notification after the data`,
      async () => {
        await stager.write({ addr: vA.desc.addr, len, devId: 0 }, peerDram, 'gpu-b', {
          notif: `peekdram:0:${len}`,
        });
        const { hash } = await send({ cmd: 'hashDram', off: 0, len });
        const want = sha(src.subarray(0, len));
        expectEq(hash, want, 'peer hash');
        const { list } = await send({ cmd: 'notifs' });
        expectEq(list.length, 1, 'notifications');
        expectEq(list[0].at, want, 'peer data when the notification arrived');
      },
    );
    await check(`staged READ peer DRAM -> VRAM, ${len} bytes`, async () => {
      await send({ cmd: 'fillDram', off: 0, len, seed: len });
      const vB = agent.alloc(len, { memType: 'VRAM' });
      try {
        c.memset(vB.desc.addr, 0xee, len, 0);
        await stager.read(vB.desc, peerDram, 'gpu-b');
        const { hash } = await send({ cmd: 'hashDram', off: 0, len });
        expectEq(hashVram(vB.desc.addr, len), hash, 'hash');
      } finally {
        vB.free();
      }
    });
  }

  // VRAM on both sides, two processes, one host: CUDA IPC.
  let ipc;
  await check('CUDA IPC: the peer exports a 1 GiB VRAM region, we map it', async () => {
    const { token } = await send({ cmd: 'vramAlloc', as: 'big', len: GiB });
    ipc = stager.importIpc(Buffer.from(token, 'base64'));
    return `mapped at 0x${ipc.addr.toString(16)}`;
  });
  if (ipc) {
    await check(
      '1 GiB VRAM -> peer VRAM (IPC), verified by hash when the notification arrives',
      async () => {
        const t0 = performance.now();
        await stager.writeIpc(vA.desc, ipc, 0, 'gpu-b', { notif: `hashvram:big:${GiB}` });
        const s = (performance.now() - t0) / 1000;
        figures.push(`IPC VRAM->VRAM 1 GiB (copy + notify): ${(GiB / s / 1e9).toFixed(2)} GB/s`);
        let list = [];
        for (let i = 0; i < 200 && list.length === 0; i++) {
          list = (await send({ cmd: 'notifs' })).list;
          if (!list.length) await new Promise((r) => setTimeout(r, 10));
        }
        expectEq(list.length, 1, 'notifications');
        expectEq(list[0].at, srcHash, 'peer VRAM when the notification arrived');
      },
    );
    await check('1 GiB peer VRAM -> VRAM (IPC read), verified by hash', async () => {
      const vB = agent.alloc(GiB, { memType: 'VRAM' });
      try {
        c.memset(vB.desc.addr, 0, GiB, 0);
        await stager.readIpc(vB.desc, ipc, 0, 'gpu-b');
        expectEq(hashVram(vB.desc.addr, GiB), srcHash, 'hash');
      } finally {
        vB.free();
      }
    });
  }

  // VRAM on both sides through staging on both sides (the path between hosts).
  await check(
    '1 GiB VRAM -> peer VRAM staged over TCP (VramLanding), hashed when the notification arrives',
    async () => {
      await send({ cmd: 'vramAlloc', as: 'landed', len: GiB });
      const { token } = await send({ cmd: 'expose', as: 'landed' });
      const t0 = performance.now();
      await stager.writeToPeerVram(vA.desc, Buffer.from(token, 'base64'), 'gpu-b', {
        notif: `hashvram:landed:${GiB}`,
      });
      const s = (performance.now() - t0) / 1000;
      figures.push(
        `staged VRAM->peer VRAM 1 GiB (TCP + landing, same host): ${(GiB / s / 1e9).toFixed(2)} GB/s`,
      );
      let list = [];
      for (let i = 0; i < 300 && list.length === 0; i++) {
        list = (await send({ cmd: 'notifs' })).list;
        if (!list.length) await new Promise((r) => setTimeout(r, 10));
      }
      expectEq(list.length, 1, 'notifications');
      expectEq(list[0].at, srcHash, 'peer VRAM when the notification arrived');
    },
  );

  // 1 GiB across processes through staging (the path between hosts).
  await check('1 GiB VRAM -> peer DRAM staged over TCP, hash; and back into VRAM', async () => {
    let t0 = performance.now();
    await stager.write(vA.desc, peerDram, 'gpu-b', { notif: `peekdram:0:${GiB}` });
    let s = (performance.now() - t0) / 1000;
    figures.push(
      `staged WRITE VRAM->peer DRAM 1 GiB (TCP, same host): ${(GiB / s / 1e9).toFixed(2)} GB/s`,
    );
    const { hash } = await send({ cmd: 'hashDram', off: 0, len: GiB });
    expectEq(hash, srcHash, 'peer hash');
    const { list } = await send({ cmd: 'notifs' });
    expectEq(list[0]?.at, srcHash, 'peer data when the notification arrived');
    const vB = agent.alloc(GiB, { memType: 'VRAM' });
    try {
      t0 = performance.now();
      await stager.read(vB.desc, peerDram, 'gpu-b');
      s = (performance.now() - t0) / 1000;
      figures.push(
        `staged READ peer DRAM->VRAM 1 GiB (TCP, same host): ${(GiB / s / 1e9).toFixed(2)} GB/s`,
      );
      expectEq(hashVram(vB.desc.addr, GiB), srcHash, 'hash back');
    } finally {
      vB.free();
    }
  });

  // The baseline in the same run: the driver's own copies, pinned host <-> VRAM.
  await check('cuMemcpy H2D / D2H / D2D bandwidth (256 MiB x 5, pinned)', () => {
    const len = 256 * MiB;
    const bw = (kind, dst, srcA) => {
      c.copySync(dst, srcA, len, kind, 0); // warm-up
      const t0 = performance.now();
      for (let i = 0; i < 5; i++) c.copySync(dst, srcA, len, kind, 0);
      return ((5 * len) / ((performance.now() - t0) / 1000) / 1e9).toFixed(2);
    };
    const h2d = bw('h2d', vA.desc.addr, srcAddr);
    const d2h = bw('d2h', srcAddr, vA.desc.addr);
    const d2d = bw('d2d', vA.desc.addr + BigInt(512 * MiB), vA.desc.addr);
    figures.push(`cuMemcpy H2D ${h2d} GB/s, D2H ${d2h} GB/s, D2D ${d2d} GB/s (256 MiB, pinned)`);
    c.copySync(vA.desc.addr, srcAddr, GiB, 'h2d', 0); // restore the pattern
  });

  ipc?.close();
  await stager.close();
  vA.free();
  await send({ cmd: 'close' }).catch(() => {});
  await agent.close();
  clearTimeout(watchdog);
  summary();
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}
