/**
 * The plugin contract, checked when a backend is created: a capability it
 * declares needs its methods; and a connection wait can be aborted.
 */
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { BackendError, CanceledError } from '../../src/errors.js';

describe('backend contract', () => {
  it('a backend that declares remote transfers without their methods is refused at creation, naming them', async () => {
    const agent = await Agent.create({ name: `contract-${process.pid}`, backends: [] });
    try {
      const path = fileURLToPath(
        new URL('../fixtures/bad-plugins/missing-methods.mjs', import.meta.url),
      );
      expect(await agent.loadPlugin(path)).toBe('HOLLOW');
      const err = await agent.createBackend('HOLLOW').catch((e) => e);
      expect(err).toBeInstanceOf(BackendError);
      expect(String(err.message)).toMatch(/remote: getConnInfo/);
      expect(String(err.message)).toMatch(/notif: genNotif/);
      expect(String(err.message)).toMatch(/remote: unloadRemoteRegions/);
      expect(agent.backends.length).toBe(0);
    } finally {
      await agent.close();
    }
  });

  it('makeConnection with an aborted signal ends with CanceledError carrying the reason', async () => {
    const a = await Agent.create({ name: `conn-a-${process.pid}`, backends: ['TCP'] });
    const b = await Agent.create({ name: `conn-b-${process.pid}`, backends: ['TCP'] });
    try {
      a.loadRemoteMD(b.getLocalMD());
      const reason = new Error('gave up');
      const err = await a
        .makeConnection(b.name, { signal: AbortSignal.abort(reason) })
        .catch((e) => e);
      expect(err).toBeInstanceOf(CanceledError);
      expect(err.cause).toBe(reason);
      await a.makeConnection(b.name); // and a later one still connects
    } finally {
      await a.close();
      await b.close();
    }
  });
});
