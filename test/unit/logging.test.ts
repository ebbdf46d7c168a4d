/**
 * The one logging facility: NIXL_LOG_LEVEL gates what reaches stderr (in a
 * child process, the environment read at logger creation), DEBUG=nixl:*
 * opens namespaces, and Agent.create's `logger` receives the lines instead.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { InvalidParamError } from '../../src/errors.js';
import { createLogger, type LogSink } from '../../src/logger.js';

const loggerUrl = new URL('../../src/logger.ts', import.meta.url).href;
const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));

/** Runs a child that logs one line per level and one plain call; returns its stderr. */
function childStderr(env: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nixl-log-'));
  const file = join(dir, 'child.mts');
  writeFileSync(
    file,
    `const { createLogger } = await import(${JSON.stringify(loggerUrl)});
const log = createLogger('nixl:test');
for (const l of ['error', 'warn', 'info', 'debug', 'trace']) log[l]('line at %s', l);
log('plain call');\n`,
  );
  const base = { ...process.env };
  for (const k of ['NIXL_LOG_LEVEL', 'DEBUG', 'NIXL_TS_LOG']) delete base[k];
  try {
    const r = spawnSync(tsx, [file], { env: { ...base, ...env }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`child exited ${r.status}: ${r.stderr}`);
    return r.stderr;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('NIXL_LOG_LEVEL', () => {
  it('defaults to WARN: errors and warnings only', () => {
    const out = childStderr({});
    expect(out).toContain('nixl:test error: line at error');
    expect(out).toContain('nixl:test warn: line at warn');
    expect(out).not.toContain('line at info');
    expect(out).not.toContain('plain call');
  }, 30_000);

  it('TRACE (any case) shows every level; ERROR hides all but errors', () => {
    const all = childStderr({ NIXL_LOG_LEVEL: 'trace' });
    for (const l of ['error', 'warn', 'info', 'debug', 'trace'])
      expect(all).toContain(`line at ${l}`);
    expect(all).toContain('nixl:test plain call');
    const errors = childStderr({ NIXL_LOG_LEVEL: 'ERROR' });
    expect(errors).toContain('line at error');
    expect(errors).not.toContain('line at warn');
  }, 30_000);

  it('DEBUG=nixl:* opens the namespace; another namespace stays quiet', () => {
    expect(childStderr({ DEBUG: 'nixl:*' })).toContain('line at trace');
    expect(childStderr({ DEBUG: 'other:*' })).not.toContain('line at debug');
    expect(childStderr({ NIXL_TS_LOG: 'nixl:test' })).toContain('line at debug');
  }, 30_000);
});

describe('the logger option', () => {
  it('receives every level, namespaced, from the agent and its children', async () => {
    const got: string[] = [];
    const sink = Object.fromEntries(
      ['error', 'warn', 'info', 'debug', 'trace'].map((l) => [
        l,
        (m: string) => got.push(`${l} ${m}`),
      ]),
    ) as unknown as LogSink;
    const saved = process.env.NIXL_LOG_LEVEL;
    delete process.env.NIXL_LOG_LEVEL;
    try {
      const agent = await Agent.create({ name: 'logged', logger: sink });
      agent.log.info('hello %d', 42);
      agent.log.extend('child').trace('deep');
      agent.log('debug by call');
      await agent.close();
    } finally {
      if (saved !== undefined) process.env.NIXL_LOG_LEVEL = saved;
    }
    expect(got).toContain('info nixl:agent:logged hello 42');
    expect(got).toContain('trace nixl:agent:logged:child deep');
    expect(got).toContain('debug nixl:agent:logged debug by call');
  });

  it('a logger without every level method is refused', async () => {
    await expect(
      Agent.create({ name: 'bad-logger', logger: { error() {} } as unknown as LogSink }),
    ).rejects.toBeInstanceOf(InvalidParamError);
  });

  it('NIXL_LOG_LEVEL, when set, filters what the sink gets', () => {
    const got: string[] = [];
    const sink = {
      error: () => got.push('error'),
      warn: () => got.push('warn'),
      info: () => got.push('info'),
      debug: () => got.push('debug'),
      trace: () => got.push('trace'),
    };
    const saved = process.env.NIXL_LOG_LEVEL;
    process.env.NIXL_LOG_LEVEL = 'info';
    try {
      const log = createLogger('nixl:t', sink);
      for (const l of ['error', 'warn', 'info', 'debug', 'trace'] as const) log[l]('x');
    } finally {
      if (saved === undefined) delete process.env.NIXL_LOG_LEVEL;
      else process.env.NIXL_LOG_LEVEL = saved;
    }
    expect(got).toEqual(['error', 'warn', 'info']);
  });
});
