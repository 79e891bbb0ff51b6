import { AwsCallError } from '../aws/errors';

/**
 * Enrichment that must never hold up containment or the rest of a story: a plan's "is this role
 * shared" lookup, a story's user-data or launcher section. Each runs on its own, bounded by its
 * own timeout; a failure (denied, throttled, not available, timed out) becomes a reason shown as
 * "could not check: <why>" instead of an error that fails or retries the whole job.
 */
export type Checked<T> = { ok: true; value: T } | { ok: false; why: string };

/** Default bound of one advisory check: AWS answers reads in well under a second. */
export const ADVISORY_TIMEOUT_MS = 10_000;

export class CheckTimedOut extends Error {
  constructor(readonly ms: number) {
    super(`no answer within ${ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`}`);
    this.name = 'CheckTimedOut';
  }
}

/** Why a check could not be made, short enough for one line in Slack. */
export function whyUnchecked(err: unknown): string {
  if (err instanceof CheckTimedOut) return `timed out (${err.message})`;
  if (err instanceof AwsCallError) {
    if (err.kind === 'access-denied') return `access denied: the bot's role may not call ${err.iamAction}`;
    if (err.kind === 'throttled') return `AWS throttled ${err.iamAction}`;
    if (err.kind === 'not-found') return `not available (${err.code})`;
    if (err.kind === 'transient') return `AWS failed transiently (${err.iamAction}, ${err.code})`;
    if (err.kind === 'expired') return `AWS rejected the bot's credentials as expired (${err.iamAction})`;
    return `${err.iamAction} failed (${err.code})`;
  }
  return (err as Error)?.message ?? String(err);
}

/** `p`, or a CheckTimedOut rejection once `ms` have passed without an answer. */
export async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckTimedOut(ms)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([p, expiry]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs one advisory check within `timeoutMs`; a failure is returned, never thrown. */
export async function advisory<T>(timeoutMs: number, fn: () => Promise<T>): Promise<Checked<T>> {
  try {
    return { ok: true, value: await within(timeoutMs, fn()) };
  } catch (err) {
    return { ok: false, why: whyUnchecked(err) };
  }
}

export function couldNotCheck(what: string, why: string): string {
  return `could not check ${what}: ${why}`;
}
