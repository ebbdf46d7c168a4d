// Diagnostic preload (scale.ts --node-args "--import THIS"): V8's sampling heap profiler over
// the whole life of a worker, counting objects that GC collected too (all allocation, not
// only what is live at the end). Writes /tmp/dgc/alloc-<pid>.heapprofile at exit.
import { Session } from 'node:inspector';
import { writeFileSync, mkdirSync } from 'node:fs';
const session = new Session();
session.connect();
session.post('HeapProfiler.startSampling', {
  samplingInterval: 16384,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
process.on('exit', () => {
  session.post('HeapProfiler.stopSampling', (err, res) => {
    mkdirSync('/tmp/dgc', { recursive: true });
    writeFileSync(`/tmp/dgc/alloc-${process.pid}.heapprofile`, JSON.stringify(err ?? res.profile));
  });
});
