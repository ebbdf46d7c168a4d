/**
 * Mesh transport options for tests: generous rate limits and bounds, every
 * callback doing nothing, and what a test cares about given as overrides.
 */
import type { MeshTransportOptions } from '../../plugins/gossip/mesh-transport.js';
import { ConnectionGate } from '../../plugins/libp2p-node/connection-gate.js';
import type { ControlNode } from '../../plugins/libp2p-node/index.js';
import { createLogger } from '../../src/logger.js';

export function testMeshTransportOptions(
  node: ControlNode,
  protocol: string,
  overrides: Partial<MeshTransportOptions> = {},
): MeshTransportOptions {
  return {
    protocol,
    maxFrameBytes: 1024 * 1024,
    maxQueueBytes: 16 * 1024 * 1024,
    messagesPerSecond: 1000,
    messageBurst: 1000,
    bytesPerSecond: 1 << 30,
    byteBurst: 1 << 30,
    maxPeers: 16,
    dialTimeoutMs: 10_000,
    gate: new ConnectionGate(node, 16, () => 0),
    addrsOf: () => [],
    refused: () => false,
    receive: () => {},
    invalid: () => {},
    rateLimited: () => {},
    foreign: () => {},
    refusedByLive: () => {},
    awaitsAnswer: () => true,
    linkRefused: () => {},
    unreachable: () => {},
    log: createLogger('nixl:test:mesh'),
    ...overrides,
  };
}
