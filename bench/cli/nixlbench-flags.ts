import { UsageError } from './usage-error.js';

/**
 * nixlbench's flag names (benchmark/nixlbench/src/utils/utils.cpp) that mean
 * the same as one of ours, so a nixlbench command line runs here unchanged.
 * `bool` flags take no value (gflags also reads `--flag=true|false` and
 * `--noflag`); the others take one (`--flag V` or `--flag=V`).
 */
const ALIASES: Record<string, { ours: string; bool?: true }> = {
  op_type: { ours: 'op' },
  start_block_size: { ours: 'start-block' },
  max_block_size: { ours: 'max-block' },
  start_batch_size: { ours: 'start-batch' },
  max_batch_size: { ours: 'max-batch' },
  num_iter: { ours: 'iters' },
  warmup_iter: { ours: 'warmup' },
  large_blk_iter_ftr: { ours: 'large-block-factor' },
  total_buffer_size: { ours: 'total-buffer' },
  pipeline_depth: { ours: 'depth' },
  check_consistency: { ours: 'check', bool: true },
  recreate_xfer: { ours: 'recreate', bool: true },
  etcd_endpoints: { ours: 'etcd-endpoints' },
  benchmark_group: { ours: 'benchmark-group' },
};

/** nixlbench flags whose only value we support is its default: accepted with it, refused otherwise. */
const FIXED: Record<string, string> = {
  initiator_seg_type: 'DRAM',
  target_seg_type: 'DRAM',
  scheme: 'pairwise',
  mode: 'SG',
  num_threads: '1',
  num_initiator_dev: '1',
  num_target_dev: '1',
  worker_type: 'nixl',
};

/** The names nixlbench knows that are accepted here. */
export const NIXLBENCH_FLAGS: readonly string[] = [...Object.keys(ALIASES), ...Object.keys(FIXED)];

/**
 * Rewrites nixlbench's flags in argv into ours (`--op_type READ` becomes
 * `--op READ`, `--check_consistency` becomes `--check`); everything else is
 * left as it is. A flag given both ways is resolved by the option parser
 * (the later one wins for single values).
 */
export function fromNixlbenchFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([a-z][a-z0-9_]*)(?:=(.*))?$/.exec(arg);
    const name = m?.[1] ?? '';
    // gflags' --noflag sets a boolean flag to false.
    const negated = !ALIASES[name] && name.startsWith('no') && ALIASES[name.slice(2)]?.bool;
    const alias = ALIASES[negated ? name.slice(2) : name];
    if (m && alias) {
      if (alias.bool) {
        const value = negated ? 'false' : (m[2] ?? 'true');
        if (value !== 'true' && value !== 'false') {
          throw new UsageError(`--${name} takes true or false, got '${value}'`);
        }
        if (value === 'true') out.push(`--${alias.ours}`);
        continue;
      }
      const value = m[2] ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      out.push(`--${alias.ours}`, value);
      continue;
    }
    const fixed = m ? FIXED[name] : undefined;
    if (fixed !== undefined) {
      const value = m![2] ?? argv[++i];
      if (value !== fixed) {
        throw new UsageError(
          `--${name} ${value ?? '(no value)'}: nixl-ts-bench supports only ${fixed}`,
        );
      }
      continue;
    }
    out.push(arg);
  }
  return out;
}
