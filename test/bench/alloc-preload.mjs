// Loaded into the relay by test/bench/alloc.ts (--import): V8's sampling heap profiler, started by
// the first SIGUSR2 and written to $ALLOC_OUT by the second (objects collected by either GC included).
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';

const session = new Session();
session.connect();
const post = (method, params) => new Promise((resolve, reject) => session.post(method, params ?? {}, (e, r) => (e ? reject(e) : resolve(r))));
let sampling = false;
process.on('SIGUSR2', async () => {
  if (!sampling) {
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: process.env.ALLOC_SURVIVORS !== '1' });
    sampling = true;
    return;
  }
  const { profile } = await post('HeapProfiler.stopSampling');
  sampling = false;
  writeFileSync(process.env.ALLOC_OUT ?? 'alloc.heapprofile', JSON.stringify(profile));
});
