import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import { AwsCallError, classifyAwsError } from './errors';

/** Renew this long before the session expires: what the SDK's own providers leave as margin. */
export const REFRESH_BEFORE_MS = 5 * 60_000;

/**
 * Assumed-role credentials that renew themselves, for jobs that outlive one session (snapshot
 * waits, long hunts). The SDK asks on every call; the answer is cached until `REFRESH_BEFORE_MS`
 * before expiry, or until `refresh()` after AWS rejected it as expired (clock skew, a session
 * revoked early). Marked `memoized` so the SDK does not put its own cache in front, which a
 * forced refresh could not reach.
 */
export interface AssumedRoleCredentials {
  (): Promise<AwsCredentialIdentity>;
  memoized: true;
  /** The next call assumes the role again. */
  refresh(): void;
  destroy(): void;
}

export function assumedRoleCredentials(o: {
  region: string;
  roleArn: string;
  sessionName: string;
  sourceIdentity: string;
  maxAttempts: number;
  durationSeconds?: number;
  now?: () => number;
}): AssumedRoleCredentials {
  const sts = new STSClient({ region: o.region, maxAttempts: o.maxAttempts });
  const now = o.now ?? Date.now;
  let current: AwsCredentialIdentity | undefined;
  let pending: Promise<AwsCredentialIdentity> | undefined;

  async function assume(): Promise<AwsCredentialIdentity> {
    const out = await sts
      .send(new AssumeRoleCommand({ RoleArn: o.roleArn, RoleSessionName: o.sessionName, SourceIdentity: o.sourceIdentity, DurationSeconds: o.durationSeconds ?? 3600 }))
      .catch((err: unknown) => {
        throw classifyAwsError(err, 'sts:AssumeRole');
      });
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new AwsCallError('invalid', 'sts:AssumeRole', 'NoCredentials', `sts:AssumeRole on ${o.roleArn} returned no credentials`);
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
  }

  const fresh = (c: AwsCredentialIdentity | undefined): c is AwsCredentialIdentity => !!c && (!c.expiration || c.expiration.getTime() - now() > REFRESH_BEFORE_MS);

  const provider = (async () => {
    if (fresh(current)) return current;
    // Concurrent calls share one AssumeRole.
    pending ??= assume()
      .then((c) => (current = c))
      .finally(() => (pending = undefined));
    return pending;
  }) as AssumedRoleCredentials;
  provider.memoized = true;
  provider.refresh = () => {
    current = undefined;
  };
  provider.destroy = () => sts.destroy();
  return provider;
}
