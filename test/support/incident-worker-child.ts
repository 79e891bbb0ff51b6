/**
 * A plain worker process for the incident kill test: the real worker, configured from the
 * environment the parent passes. The parent SIGKILLs it from inside the Slack or Jira stand-in,
 * after a call was carried out and before its answer leaves.
 */
import { runWorkerProcess } from './worker-process';

// Short locks: a killed worker's job is taken up again within seconds.
runWorkerProcess('incident worker child', { lock: { lockDuration: 3000, stalledInterval: 1500 } });
