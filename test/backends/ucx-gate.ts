import { describe, it } from 'vitest';

/**
 * UCX tests are opt-in (NIXL_TEST_UCX=1, or `npm run test:ucx`) until a crash
 * inside Debian UCX 1.13's tcp progress (uct_tcp_iface_progress, on the
 * progress thread, a few runs in ten of test/backends/ucx.test.ts) is fixed:
 * one crash takes a whole test worker down. Without the flag each file reports
 * one skipped test that says so.
 */
export const UCX_TESTS_ENABLED = process.env.NIXL_TEST_UCX === '1';

export function reportUcxSkipped(what: string): void {
  describe(what, () => {
    it.skip('opt-in: set NIXL_TEST_UCX=1 (npm run test:ucx); see test/backends/ucx-gate.ts for why', () => {});
  });
}
