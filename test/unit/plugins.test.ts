import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { InvalidParamError, NotFoundError, NotSupportedError } from '../../src/errors.js';

const fixtures = (p: string) => fileURLToPath(new URL(`../fixtures/${p}`, import.meta.url));
let agent: Agent | undefined;
afterEach(async () => {
  await agent?.close();
  agent = undefined;
});

describe('plugins', () => {
  it('lists the built-ins and their parameters', async () => {
    agent = await Agent.create({ name: 'p1' });
    expect(agent.getAvailPlugins()).toContain('LOCAL');
    const { mems, params } = agent.getPluginParams('LOCAL');
    expect(mems).toEqual(['DRAM']);
    expect(params).toHaveProperty('slice_bytes');
    expect(() => agent!.getPluginParams('NOPE')).toThrow(NotFoundError);
  });

  it('creates one backend per type, in preference order, with effective params', async () => {
    agent = await Agent.create({
      name: 'p2',
      backends: [{ type: 'LOCAL', params: { slice_bytes: '4096' } }],
    });
    expect(agent.backends.map((b) => b.type)).toEqual(['LOCAL']);
    expect(agent.getBackendParams('LOCAL').params.slice_bytes).toBe('4096');
    await expect(agent.createBackend('LOCAL')).rejects.toBeInstanceOf(InvalidParamError);
    await expect(agent.createBackend('NOPE')).rejects.toBeInstanceOf(NotFoundError);
    await expect(agent.createBackend('LOCAL', { x: 1 as any })).rejects.toBeInstanceOf(
      InvalidParamError,
    );
    expect(() => agent!.getBackendParams('NOPE')).toThrow(NotFoundError);
  });

  it('a bad parameter value is refused by the plugin with a typed error', async () => {
    await expect(
      Agent.create({ name: 'p3', backends: [{ type: 'LOCAL', params: { slice_bytes: 'lots' } }] }),
    ).rejects.toThrow(/slice_bytes must be a positive integer/);
  });

  it('loads plugins from the directories in NIXL_TS_PLUGIN_PATH', async () => {
    const saved = process.env.NIXL_TS_PLUGIN_PATH;
    process.env.NIXL_TS_PLUGIN_PATH = fixtures('plugins');
    try {
      agent = await Agent.create({ name: 'p4', backends: ['FILE_STAT'] });
    } finally {
      if (saved === undefined) delete process.env.NIXL_TS_PLUGIN_PATH;
      else process.env.NIXL_TS_PLUGIN_PATH = saved;
    }
    expect(agent.getAvailPlugins()).toEqual(expect.arrayContaining(['LOCAL', 'FILE_STAT']));
    const path = fixtures('plugins/file-stat/index.mjs');
    const info = agent.queryMem([{ addr: 0, len: 0, metaInfo: new TextEncoder().encode(path) }], {
      backend: 'FILE_STAT',
      memType: 'FILE',
    });
    expect(info[0]?.accessible).toBe('true');
    expect(Number(info[0]?.size)).toBeGreaterThan(100);
    const reg = agent.registerMem(
      [{ addr: 0, len: 0, devId: 3, metaInfo: new TextEncoder().encode(path) }],
      { memType: 'FILE' },
    );
    expect(reg.descs.memType).toBe('FILE');
    reg.close();
  });

  it('loads a plugin by path, and explains what a non-plugin lacks', async () => {
    agent = await Agent.create({ name: 'p5', backends: ['LOCAL'] });
    expect(await agent.loadPlugin(fixtures('plugins/file-stat/index.mjs'))).toBe('FILE_STAT');
    await expect(agent.loadPlugin(fixtures('bad-plugins/not-a-plugin.mjs'))).rejects.toThrow(
      /missing 'apiVersion' \(number\), 'mems' \(array of memory types\), 'defaultParams' \(object\), 'create' \(function\)/,
    );
    await expect(agent.loadPlugin(fixtures('bad-plugins/wrong-api.mjs'))).rejects.toThrow(
      /API version 99/,
    );
    await expect(agent.loadPlugin(fixtures('bad-plugins/absent.mjs'))).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect(() => agent!.queryMem([new Uint8Array(4)], { backend: 'LOCAL' })).toThrow(
      NotSupportedError,
    );
  });
});
