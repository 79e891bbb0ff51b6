import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { ADVISORY_TIMEOUT_MS, advisory, type Checked } from './advisory';
import { shareResult, type ActionContext } from './types';

/** Ten plans for instances of one role ask the same question: one answer serves them for this long. */
const PROFILE_USERS_FRESH_MS = 10_000;

/**
 * Advisory: the other instances that run with the same instance profile. Isolation warns that
 * revoking the role would hit them, revoke-sessions that its deny does; neither plan waits on it
 * or fails for it. Plans of every action and worker share one answer per account, region and
 * profile (a storm of isolations and revocations of one role makes one call).
 */
export async function instancesSharingProfile(ctx: ActionContext, instanceId: string, profileArn: string | undefined): Promise<Checked<string[]>> {
  const { aws } = ctx;
  if (!profileArn) return { ok: true, value: [] };
  return advisory(ADVISORY_TIMEOUT_MS, async () => {
    const users = await shareResult(ctx, `profile-users:${aws.account}:${aws.region}:${profileArn}`, PROFILE_USERS_FRESH_MS, async () => {
      const out = await aws.send(
        aws.clients.ec2,
        new DescribeInstancesCommand({
          Filters: [
            { Name: 'iam-instance-profile.arn', Values: [profileArn] },
            { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
          ],
          MaxResults: 1000,
        }),
      );
      return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId ?? '');
    });
    return users.filter((id) => id && id !== instanceId);
  });
}
