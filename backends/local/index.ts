import { BACKEND_API_VERSION, type BackendPlugin } from '../../src/backend.js';
import { InvalidParamError } from '../../src/errors.js';
import { LocalBackend } from './local-backend.js';

export { LocalBackend } from './local-backend.js';

function positiveInt(params: Record<string, string>, key: string): number {
  const v = Number(params[key]);
  if (!Number.isSafeInteger(v) || v <= 0) {
    throw new InvalidParamError(
      `parameter ${key} must be a positive integer, got '${params[key]}'`,
      { backend: 'LOCAL' },
    );
  }
  return v;
}

/** The LOCAL backend plugin: transfers within one agent, in pure TypeScript. */
export const plugin: BackendPlugin = {
  apiVersion: BACKEND_API_VERSION,
  name: 'LOCAL',
  version: '1.0.0',
  mems: ['DRAM'],
  defaultParams: { inline_bytes: String(256 * 1024), slice_bytes: String(8 * 1024 * 1024) },
  async create(params, components) {
    const opts = {
      inlineBytes: positiveInt(params, 'inline_bytes'),
      sliceBytes: positiveInt(params, 'slice_bytes'),
    };
    return new LocalBackend(params, opts, components);
  },
};

export default plugin;
