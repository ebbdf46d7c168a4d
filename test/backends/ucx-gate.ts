import { describe, it } from 'vitest';

import { ucxUnavailableReason } from '../../backends/ucx/native-ucx.js';

/**
 * The UCX tests run wherever the UCX addon was built (pkg-config found UCX).
 * Without it each UCX test file reports one skipped test that says why; the
 * InfiniBand tests have their own condition (test/backends/ucx-ib.test.ts).
 *
 * They used to be opt-in because of a crash in UCX 1.13's tcp receive path on
 * the target; the engine now avoids its trigger (see UcxEngine::MakePeer in
 * native/ucx/engine.cc), and test/backends/ucx.test.ts checks that.
 */
const reason = ucxUnavailableReason();
export const UCX_AVAILABLE = reason === undefined;

export function reportUcxUnavailable(what: string): void {
  describe(what, () => {
    it.skip(`skipped: ${reason}`, () => {});
  });
}
