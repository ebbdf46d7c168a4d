/**
 * native/cuda declares the driver's ABI by hand (the build needs no CUDA);
 * where the toolkit is installed, native/cuda/abi_check.cc proves each
 * constant, struct size and entry-point signature equal to cuda.h's.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CUDA_INCLUDE = process.env['CUDA_HOME']
  ? `${process.env['CUDA_HOME']}/include`
  : '/usr/local/cuda/include';
const HAS_TOOLKIT = existsSync(`${CUDA_INCLUDE}/cuda.h`);

describe('native/cuda/driver_api.h against cuda.h', () => {
  it.skipIf(!HAS_TOOLKIT)(`compiles abi_check.cc (skipped: no ${CUDA_INCLUDE}/cuda.h)`, () => {
    const out = execFileSync(
      'g++',
      [
        '-std=c++20',
        '-fsyntax-only',
        '-I',
        'native',
        '-I',
        CUDA_INCLUDE,
        'native/cuda/abi_check.cc',
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(out).toBe('');
  });
});
