// Run inside a fresh project that installed the nixl-ts tarball (core only):
// what a user without the optional peer dependencies sees. Prints one JSON line.
const out = {};
const describe = (err) => ({ name: err.name, code: err.code, message: err.message });

const before = Object.getOwnPropertyDescriptor(Promise, 'withResolvers');
const { Agent } = await import('nixl-ts');
const agent = await Agent.create({ name: 'globals', backends: ['TCP'] });
await agent.close();
const after = Object.getOwnPropertyDescriptor(Promise, 'withResolvers');
out.globalsUnchanged =
  before?.value === after?.value && (before === undefined) === (after === undefined);

for (const entry of [
  'nixl-ts/plugins/gossip',
  'nixl-ts/plugins/mdns',
  'nixl-ts/plugins/seeds',
  'nixl-ts/plugins/etcd',
  'nixl-ts/testing',
]) {
  try {
    await import(entry);
    out[entry] = 'imported';
  } catch (err) {
    out[entry] = describe(err);
  }
}

try {
  await Agent.create({ name: 'metrics', backends: ['TCP'], metrics: {} });
  out.metrics = 'created';
} catch (err) {
  out.metrics = describe(err);
}
try {
  const { registerMetrics } = await import('nixl-ts/metrics');
  registerMetrics({});
  out.registerMetrics = 'registered';
} catch (err) {
  out.registerMetrics = describe(err);
}

console.log(JSON.stringify(out));
