/**
 * Emulated hosts for tests and benchmarks: `ip netns` namespaces joined by a
 * bridge that lives in a switch namespace of its own, so the machine's own
 * namespace is never touched. Needs root. Names are global on the machine:
 * a unique prefix per run, and `destroy()` (also run on process exit) deletes
 * every namespace it made.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface EmulatedHost {
  readonly netns: string;
  /** 198.18.0.<i+1>: the RFC 2544 benchmark range, which libp2p treats as private. */
  readonly ip: string;
}

export interface Hosts {
  readonly prefix: string;
  readonly hosts: EmulatedHost[];
  /** Spawns `cmd args` inside host i's namespace. */
  spawn(i: number, cmd: string, args: string[], opts?: SpawnOptions): ChildProcess;
  destroy(): void;
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** True when this process may create namespaces (root, with `ip`). */
export function netnsAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let counter = 0;

export function createHosts(n: number, tag = 'd'): Hosts {
  if (!(n >= 1 && n <= 250)) throw new RangeError(`createHosts: n must be 1..250, got ${n}`);
  const prefix = `nixl${tag}${process.pid}x${counter++}`;
  const sw = `${prefix}-sw`;
  const made: string[] = [];
  const destroy = () => {
    for (const ns of made.splice(0).reverse()) {
      try {
        ip(['netns', 'del', ns]);
      } catch {
        // Already gone.
      }
    }
  };
  process.once('exit', destroy);
  try {
    ip(['netns', 'add', sw]);
    made.push(sw);
    ip(['-n', sw, 'link', 'set', 'lo', 'up']);
    ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', sw, 'link', 'set', 'br0', 'up']);
    const hosts: EmulatedHost[] = [];
    for (let i = 0; i < n; i++) {
      const netns = `${prefix}-h${i + 1}`;
      const addr = `198.18.0.${i + 1}`;
      ip(['netns', 'add', netns]);
      made.push(netns);
      ip([
        '-n',
        sw,
        'link',
        'add',
        `veth${i + 1}`,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        netns,
      ]);
      ip(['-n', sw, 'link', 'set', `veth${i + 1}`, 'master', 'br0', 'up']);
      ip(['-n', netns, 'link', 'set', 'lo', 'up']);
      ip(['-n', netns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
      ip(['-n', netns, 'link', 'set', 'eth0', 'up']);
      // mDNS needs a route for multicast out of eth0.
      ip(['-n', netns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0']);
      hosts.push({ netns, ip: addr });
    }
    return {
      prefix,
      hosts,
      spawn(i, cmd, args, opts = {}) {
        const h = hosts[i];
        if (!h) throw new RangeError(`no host ${i}`);
        return spawn('ip', ['netns', 'exec', h.netns, cmd, ...args], opts);
      },
      destroy() {
        process.removeListener('exit', destroy);
        destroy();
      },
    };
  } catch (err) {
    destroy();
    throw err;
  }
}
