/**
 * Plugin directories: NIXL_PLUGIN_DIR (NIXL's variable, one directory) is
 * scanned beside NIXL_TS_PLUGIN_PATH; a file there that is not a plugin is
 * skipped with a warning naming it, and the agent is created all the same.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { NotFoundError } from '../../src/errors.js';
import type { LogSink } from '../../src/logger.js';

const fileStat = fileURLToPath(new URL('../fixtures/plugins/file-stat/index.mjs', import.meta.url));

let dir: string;
const saved = process.env.NIXL_PLUGIN_DIR;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nixl-plugins-'));
});
afterEach(() => {
  if (saved === undefined) delete process.env.NIXL_PLUGIN_DIR;
  else process.env.NIXL_PLUGIN_DIR = saved;
  rmSync(dir, { recursive: true, force: true });
});

function recorder(): { sink: LogSink; warnings: string[] } {
  const warnings: string[] = [];
  const none = () => {};
  return {
    warnings,
    sink: { error: none, warn: (m) => warnings.push(m), info: none, debug: none, trace: none },
  };
}

describe('NIXL_PLUGIN_DIR', () => {
  it('loads the plugins of the directory it names', async () => {
    copyFileSync(fileStat, join(dir, 'file-stat.mjs'));
    process.env.NIXL_PLUGIN_DIR = dir;
    const agent = await Agent.create({ name: 'plugdir' });
    try {
      expect(agent.getAvailPlugins()).toContain('FILE_STAT');
      await agent.createBackend('FILE_STAT');
    } finally {
      await agent.close();
    }
  });

  it('skips files that are not plugins with a warning naming each', async () => {
    copyFileSync(fileStat, join(dir, 'file-stat.mjs'));
    writeFileSync(join(dir, 'helper.mjs'), 'export function helper() { return 1; }\n');
    writeFileSync(join(dir, 'broken.mjs'), 'export const = ;\n');
    writeFileSync(join(dir, 'libplugin_UCX.so'), 'not javascript, not a candidate');
    process.env.NIXL_PLUGIN_DIR = dir;
    const { sink, warnings } = recorder();
    const agent = await Agent.create({ name: 'stray', backends: ['LOCAL'], logger: sink });
    try {
      expect(agent.getAvailPlugins()).toEqual(expect.arrayContaining(['LOCAL', 'FILE_STAT']));
      expect(warnings).toHaveLength(2);
      expect(warnings.find((w) => w.includes(join(dir, 'helper.mjs')))).toMatch(
        /not a nixl-ts backend plugin/,
      );
      expect(warnings.find((w) => w.includes(join(dir, 'broken.mjs')))).toMatch(/skipped/);
      expect(() => agent.getPluginParams('HELPER')).toThrow(NotFoundError);
    } finally {
      await agent.close();
    }
  });

  it('warns on stderr at the default level when no logger is given', async () => {
    writeFileSync(join(dir, 'helper.mjs'), 'export const x = 1;\n');
    process.env.NIXL_PLUGIN_DIR = dir;
    const writes: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (writes.push(String(chunk)), true)) as never;
    const savedLevel = process.env.NIXL_LOG_LEVEL;
    delete process.env.NIXL_LOG_LEVEL;
    try {
      const agent = await Agent.create({ name: 'quiet' });
      await agent.close();
    } finally {
      process.stderr.write = write;
      if (savedLevel !== undefined) process.env.NIXL_LOG_LEVEL = savedLevel;
    }
    expect(writes.join('')).toMatch(/nixl:agent:quiet:plugins warn: skipped .*helper\.mjs/);
  });
});
