import { UsageError } from './usage-error.js';

/**
 * Named sweeps: the option lists that replaced the former per-backend
 * benchmark scripts (bench/tcp/bench.ts, bench/ucx/vs-perftest.ts). A preset
 * expands in front of the command line, so options given after it override
 * its values (lists such as --param add to it).
 */
/** The UCX presets' sweep, with the backend params that pick the transports. */
function ucxSweep(params: readonly string[]): string[] {
  return [
    '--backend',
    'UCX',
    ...params.flatMap((p) => ['--param', p]),
    '--op',
    'WRITE,READ',
    '--block',
    '4K,64K,1M,16M',
    '--cells',
    '4Kx1024,64Kx1024,1Mx64',
    '--depth',
    '4',
    '--baselines',
    'putflush,ucx_perftest',
  ];
}

export const PRESETS: Record<string, { about: string; args: string[] }> = {
  tcp: {
    about: 'TCP, both paths, READ and WRITE, 4K/64K/1M/16M at batch 1 and 4K/64K/1M at batch 256',
    args: [
      '--backend',
      'TCP',
      '--path',
      'socket,same-host',
      '--op',
      'WRITE,READ',
      '--block',
      '4K,64K,1M,16M',
      '--cells',
      '4Kx256,64Kx256,1Mx256',
      '--baseline',
    ],
  },
  'tcp-busy-poll': {
    about: 'TCP with busy_poll_us=400 on both sides, batch 1 up to 1M (the latency setting)',
    args: [
      '--backend',
      'TCP',
      '--path',
      'socket,same-host',
      '--op',
      'WRITE,READ',
      '--block',
      '4K,64K,1M',
      '--param',
      'busy_poll_us=400',
      '--baseline',
    ],
  },
  ucx: {
    about:
      'UCX over tcp, READ and WRITE, 4K/64K/1M/16M at batch 1, NIXL-sized batches, 4 in flight',
    args: ucxSweep(['profile=tcp']),
  },
  'ucx-shm': {
    about: "UCX over shared memory (profile shm, errorHandling 'process'), as the ucx preset",
    args: ucxSweep(['profile=shm', 'errorHandling=process']),
  },
};

/** argv with each `--preset NAME` (or `--preset=NAME`) replaced by the preset's options. */
export function expandPresets(argv: readonly string[]): string[] {
  const out: string[] = [];
  const presets: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--preset' || arg.startsWith('--preset=')) {
      const name = arg === '--preset' ? argv[++i] : arg.slice('--preset='.length);
      const preset = name === undefined ? undefined : PRESETS[name];
      if (!preset) {
        throw new UsageError(
          `--preset: unknown '${name ?? ''}'; known: ${Object.keys(PRESETS).join(', ')}`,
        );
      }
      presets.push(...preset.args);
    } else {
      out.push(arg);
    }
  }
  return [...presets, ...out];
}
