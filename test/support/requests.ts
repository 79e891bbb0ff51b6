import type { ActionRequest } from '../../src/requests/model';
import { RequestStore } from '../../src/requests/store';
import { waitFor, type Harness } from './harness';

const ENDED = ['done', 'failed', 'refused', 'rejected', 'expired'];

export function requestStoreOf(h: Harness): RequestStore {
  return new RequestStore(h.redis, h.config.redisPrefix, 3600);
}

/** Waits until request `id` has ended (done, failed, refused, rejected or expired). */
export function requestEnded(h: Harness, id: string, timeoutMs = 30_000): Promise<ActionRequest> {
  return waitFor(async () => {
    const r = await requestStoreOf(h).get(id);
    return r && ENDED.includes(r.state) ? r : undefined;
  }, `request ${id} to end`, timeoutMs);
}

/** Waits until at least `n` requests exist and all have ended; newest first. */
export function allEnded(h: Harness, n: number, timeoutMs = 60_000): Promise<ActionRequest[]> {
  return waitFor(async () => {
    const all = await requestStoreOf(h).recent(Math.max(50, n));
    return all.length >= n && all.every((r) => ENDED.includes(r.state)) ? all : undefined;
  }, `${n} requests to end`, timeoutMs);
}
