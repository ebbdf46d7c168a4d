/**
 * The guarded package entries (plugins/<name>/entry.ts, testing/entry.ts)
 * against what they guard: the same exports as the module they load, and
 * the same version ranges as package.json's optional peer dependencies.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { NotSupportedError } from '../../src/errors.js';
import { ETCD_DEPS, LIBP2P_DEPS, MDNS_DEPS, requirePeerDeps } from '../../plugins/optional-deps.js';
import { ROOT } from './pack.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  devDependencies: Record<string, string>;
  dependencies: Record<string, string>;
  exports: Record<string, { default: string } | string>;
};

describe('optional peer dependencies', () => {
  it('the guards name the ranges package.json declares, all optional, none a dependency', () => {
    const guarded = { ...LIBP2P_DEPS, ...MDNS_DEPS, ...ETCD_DEPS };
    // The OBJ backend checks for the AWS SDK itself when it is created (backends/obj/index.ts).
    const expected = {
      ...guarded,
      '@aws-sdk/client-s3': expect.any(String),
      'prom-client': expect.any(String),
      vitest: expect.any(String),
    };
    expect(pkg.peerDependencies).toEqual(expected);
    for (const [name, range] of Object.entries(pkg.peerDependencies)) {
      expect(pkg.peerDependenciesMeta[name]?.optional, name).toBe(true);
      expect(pkg.devDependencies[name], `${name} is installed for this repository's tests`).toBe(
        range,
      );
      expect(pkg.dependencies[name], name).toBeUndefined();
    }
    for (const range of Object.values(pkg.dependencies)) expect(range).toMatch(/^\^/);
  });

  it('requirePeerDeps names each missing package and the npm command, and passes when all resolve', () => {
    expect(() => requirePeerDeps('x', { protobufjs: '^8.0.0' })).not.toThrow();
    let caught: unknown;
    try {
      requirePeerDeps('nixl-ts/plugins/example', {
        protobufjs: '^8.0.0',
        'nixl-ts-no-such-package': '^1.2.3',
      });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(NotSupportedError);
    expect((caught as Error).message).toContain(
      "nixl-ts/plugins/example needs its optional peer dependencies, and nixl-ts-no-such-package is not installed; add them to your project: npm install nixl-ts-no-such-package@'^1.2.3'",
    );
  });

  const plugins: Record<string, [() => Promise<object>, () => Promise<object>]> = {
    gossip: [
      () => import('../../plugins/gossip/entry.js'),
      () => import('../../plugins/gossip/index.js'),
    ],
    mdns: [
      () => import('../../plugins/mdns/entry.js'),
      () => import('../../plugins/mdns/index.js'),
    ],
    seeds: [
      () => import('../../plugins/seeds/entry.js'),
      () => import('../../plugins/seeds/index.js'),
    ],
    etcd: [
      () => import('../../plugins/etcd/entry.js'),
      () => import('../../plugins/etcd/index.js'),
    ],
    'libp2p-node': [
      () => import('../../plugins/libp2p-node/entry.js'),
      () => import('../../plugins/libp2p-node/index.js'),
    ],
  };
  it.each(Object.keys(plugins))(
    'nixl-ts/plugins/%s: the package entry is the guard and exports every value the plugin does',
    async (name) => {
      expect(pkg.exports[`./plugins/${name}`]).toMatchObject({
        default: `./dist/plugins/${name}/entry.js`,
      });
      const [loadEntry, loadPlugin] = plugins[name]!;
      const entry = (await loadEntry()) as Record<string, unknown>;
      const plugin = (await loadPlugin()) as Record<string, unknown>;
      expect(Object.keys(entry).sort()).toEqual(Object.keys(plugin).sort());
      for (const k of Object.keys(plugin)) expect(entry[k], k).toBe(plugin[k]);
    },
  );

  it('nixl-ts/testing: the package entry exports every value testing/index does', async () => {
    expect(pkg.exports['./testing']).toMatchObject({ default: './dist/testing/entry.js' });
    const entry = await import('../../testing/entry.js');
    const testing = await import('../../testing/index.js');
    expect(Object.keys(entry).sort()).toEqual(Object.keys(testing).sort());
  });
});
