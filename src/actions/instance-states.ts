import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import type { ActionContext } from './types';

/** Instance states by id; a filter, not InstanceIds, so an instance EC2 has forgotten is just absent. */
export async function instanceStates(ctx: ActionContext, ids: string[]): Promise<Map<string, string>> {
  const out = await ctx.aws.send(ctx.aws.clients.ec2, new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: ids }] }));
  return new Map((out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => [i.InstanceId!, i.State?.Name ?? 'unknown']));
}

/**
 * Polls with doubling waits until every instance is `wanted` (a terminated instance EC2 no longer
 * lists counts as terminated), reporting "k of n" as the last step's progress.
 */
export async function waitForInstances(ctx: ActionContext, ids: string[], wanted: 'stopped' | 'terminated', step: number): Promise<string> {
  const deadline = Date.now() + ctx.stop.timeoutMinutes * 60_000;
  let wait = ctx.stop.pollIntervalMs;
  for (;;) {
    const now = await instanceStates(ctx, ids);
    const pending = ids.filter((id) => (now.get(id) ?? (wanted === 'terminated' ? 'terminated' : 'unknown')) !== wanted);
    if (pending.length === 0) return `${ids.length} instance(s) ${wanted}`;
    await ctx.progress(step, step, `${ids.length - pending.length} of ${ids.length} ${wanted}`);
    if (Date.now() > deadline) throw new Error(`${pending.join(', ')} not ${wanted} after ${ctx.stop.timeoutMinutes} min (state: ${pending.map((id) => now.get(id) ?? 'unknown').join(', ')})`);
    await ctx.sleep(wait);
    wait = Math.min(wait * 2, 60_000);
  }
}
