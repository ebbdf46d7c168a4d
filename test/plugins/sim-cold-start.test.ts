/**
 * The simulation's cold start (bench/discovery/sim/sim.ts) run as a fresh
 * process: members hold the plugin's link cap (a seed start is not a star),
 * and all-know-all is reached.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const SIM = fileURLToPath(new URL('../../bench/discovery/sim/sim.ts', import.meta.url));

/** One cold start of `n` members through one seed: its table row's columns. */
function seedStart(n: number, extra: string[] = []) {
  const run = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      SIM,
      '--cold',
      String(n),
      '--shapes',
      'seed',
      '--events',
      '',
      '--stress',
      '',
      ...extra,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  expect(run.status, run.stderr).toBe(0);
  const row = run.stdout.split('\n').find((l) => l.startsWith(`${n} | seed |`));
  expect(row, run.stdout).toBeDefined();
  const cols = row!.split('|').map((c) => c.trim());
  return { rounds: Number(cols[2]), maxMsgs: Number(cols[5]), peakLinks: Number(cols[6]) };
}

describe('simulation cold start', () => {
  it("members hold the plugin's link cap: through one seed no member ever holds more than 8 links, and all know all", () => {
    const capped = seedStart(200);
    expect(capped.rounds).toBeGreaterThan(0);
    expect(capped.peakLinks).toBeLessThanOrEqual(8);
    // Without the cap (the simulation before): the seed holds every joiner's link at once.
    const star = seedStart(200, ['--link-cap', 'inf']);
    expect(star.rounds).toBeGreaterThan(0);
    expect(star.peakLinks).toBe(199);
  }, 120_000);
});
