// The S3-API server process the tests start: s3rver on 127.0.0.1, objects in
// the directory given, the buckets given created. Prints one JSON line,
// {"port": N}, once it serves; runs until it is killed.
// Usage: node s3rver-main.mjs <directory> <port or 0> [bucket...]
import S3rver from 's3rver';

const [directory, port, ...buckets] = process.argv.slice(2);
if (!directory || port === undefined) {
  console.error('usage: s3rver-main.mjs <directory> <port> [bucket...]');
  process.exit(2);
}
const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  directory,
  silent: true,
  configureBuckets: buckets.map((name) => ({ name, configs: [] })),
});
const { port: bound } = await server.run();
process.stdout.write(JSON.stringify({ port: bound }) + '\n');
