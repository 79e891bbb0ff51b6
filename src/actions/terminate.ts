import { LookupEventsCommand, type CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { DescribeSnapshotsCommand, ModifyInstanceAttributeCommand, TerminateInstancesCommand, type Snapshot } from '@aws-sdk/client-ec2';
import { cloudTrailTurn } from './blast-radius';
import { InstanceUnavailable, findInstance, protectionOf } from './instance';
import { instanceStates, waitForInstances } from './instance-states';
import { memoryGate } from './memory-gate';
import type { ActionOutcome, PlanView } from './results';
import { FinalError, blockedPlan, fingerprint, runSteps, type ActionContext, type ResponseAction } from './types';

/**
 * Eradication: terminate instances the compromised principal launched, and only those, once every
 * volume has a completed snapshot of the instance and any memory capture of it is verified.
 * Always behind a second person's approval (see ALWAYS_TWO_PERSON); nothing here can be undone,
 * so the plan lists the evidence that remains.
 */

interface Launch {
  accessKeyId?: string;
  arn?: string;
  at: string;
}

interface TerminateTarget {
  instanceId: string;
  state: string;
  launch: Launch;
  protected: boolean;
  evidence: string[];
}

interface TerminatePlanData {
  principal: string;
  targets: TerminateTarget[];
  refused: string[];
}

/** Who ran the RunInstances that created the instance, from CloudTrail's event history. */
export async function launchOf(ctx: ActionContext, instanceId: string): Promise<Launch | undefined> {
  const { aws } = ctx;
  const start = new Date(ctx.now().getTime() - 90 * 86_400_000);
  let token: string | undefined;
  const lastCall = new Map<CloudTrailClient, number>();
  for (let page = 0; page < 20; page++) {
    await cloudTrailTurn(ctx, aws.clients.cloudTrail, lastCall);
    const out = await aws.send(
      aws.clients.cloudTrail,
      new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: instanceId }], StartTime: start, EndTime: ctx.now(), NextToken: token, MaxResults: 50 }),
    );
    for (const e of out.Events ?? []) {
      if (e.EventName !== 'RunInstances') continue;
      try {
        const d = JSON.parse(e.CloudTrailEvent ?? '{}');
        if (d.errorCode) continue;
        const launched = (d.responseElements?.instancesSet?.items ?? []).some((i: { instanceId?: string }) => i.instanceId === instanceId);
        if (launched) return { accessKeyId: d.userIdentity?.accessKeyId, arn: d.userIdentity?.arn, at: d.eventTime ?? e.EventTime?.toISOString() ?? '?' };
      } catch {
        // An unreadable event proves nothing either way.
      }
    }
    token = out.NextToken;
    if (!token) break;
  }
  return undefined;
}

export function launchedBy(launch: Launch, principal: string): boolean {
  return /^(AKIA|ASIA)/.test(principal) ? launch.accessKeyId === principal : launch.arn === principal;
}

/**
 * Per attached volume, the newest completed snapshot ir-bot made of it for this instance. Evidence
 * belongs to the instance: one made by another request or card counts too (an instance without a
 * card is snapshotted by one request and terminated by another), but only while it is recent
 * (`snapshot.otherCaseMaxAgeHours`): an old snapshot from an earlier incident holds nothing of this one.
 */
async function evidenceOf(ctx: ActionContext, instanceId: string, volumes: { volumeId: string; device: string }[]): Promise<{ have: string[]; missing: string[] }> {
  const { aws } = ctx;
  const out = await aws.send(aws.clients.ec2, new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'tag:ir:instance', Values: [instanceId] }] }));
  const have: string[] = [];
  const missing: string[] = [];
  const tag = (s: Snapshot, key: string) => s.Tags?.find((t) => t.Key === key)?.Value;
  const caseId = ctx.caseId.slice(0, 255);
  const oldest = ctx.now().getTime() - ctx.snapshot.otherCaseMaxAgeHours * 3_600_000;
  const made = (s: Snapshot) => (s.StartTime ? `, ${s.StartTime.toISOString()}` : '');
  const madeFor = (s: Snapshot) => {
    const of = tag(s, 'ir:case');
    return of && of !== caseId ? `, ${of === tag(s, 'ir:request') ? 'request' : 'case'} ${of}` : '';
  };
  for (const v of volumes) {
    const newestFirst = (out.Snapshots ?? [])
      .filter((x) => x.VolumeId === v.volumeId && x.State === 'completed' && !tag(x, 'ir:copy-of'))
      .sort((a, b) => (b.StartTime?.getTime() ?? 0) - (a.StartTime?.getTime() ?? 0));
    const s = newestFirst.find((x) => tag(x, 'ir:case') === caseId || (x.StartTime?.getTime() ?? 0) >= oldest);
    if (s) have.push(`${v.device} ${v.volumeId} → ${s.SnapshotId} (completed${made(s)}${madeFor(s)})`);
    else if (newestFirst[0]) missing.push(`${v.device} ${v.volumeId} (its newest ir-bot snapshot, ${newestFirst[0].SnapshotId}${made(newestFirst[0])}${madeFor(newestFirst[0])}, is older than ${ctx.snapshot.otherCaseMaxAgeHours} h and of another case)`);
    else missing.push(`${v.device} ${v.volumeId}`);
  }
  return { have, missing };
}

async function plan(targets: string[], ctx: ActionContext): Promise<PlanView> {
  const { aws } = ctx;
  const [principal, ...ids] = targets;
  if (ids.length === 0) return blockedPlan('Name the instances to terminate after the principal: `/ir terminate <access-key-id|user-arn> <instance-id>…`');
  const chosen: TerminateTarget[] = [];
  const refused: string[] = [];
  /** Instances whose memory goes unpreserved, as the requester chose (without-memory). */
  const memoryLost: string[] = [];
  for (const id of ids) {
    let i;
    try {
      i = await findInstance(aws, id);
    } catch (err) {
      if (!(err instanceof InstanceUnavailable)) throw err;
      refused.push(err.message);
      continue;
    }
    const launch = await launchOf(ctx, id);
    if (!launch) {
      refused.push(`${id}: no RunInstances event for it in CloudTrail's 90-day history, so nothing shows ${principal} launched it: not terminated`);
      continue;
    }
    if (!launchedBy(launch, principal)) {
      refused.push(`${id} was launched by ${launch.arn ?? '?'}${launch.accessKeyId ? ` with key ${launch.accessKeyId}` : ''}, not by ${principal}: ir-bot terminates only what the compromised principal launched`);
      continue;
    }
    const volumes = (i.BlockDeviceMappings ?? []).filter((m) => m.Ebs?.VolumeId).map((m) => ({ volumeId: m.Ebs!.VolumeId!, device: m.DeviceName ?? '?' }));
    if (volumes.length === 0) {
      refused.push(`${id} has no EBS volume to snapshot (instance store only): terminating would leave no disk evidence, so ir-bot does not`);
      continue;
    }
    const { have, missing } = await evidenceOf(ctx, id, volumes);
    if (missing.length) {
      refused.push(`${id}: ${missing.join(', ')} has no usable completed ir-bot snapshot of this instance; snapshot first (\`/ir snapshot ${id}\`) and ask again`);
      continue;
    }
    const gate = await memoryGate(ctx, [id], { verb: 'terminate', command: `/ir terminate ${principal} ${id}`, wait: false });
    if (gate.blocked) {
      refused.push(gate.blocked);
      continue;
    }
    const image = gate.images.get(id);
    const evidence = [...have, ...(image ? [image] : [])];
    memoryLost.push(...gate.summary);
    chosen.push({ instanceId: id, state: i.State?.Name ?? 'unknown', launch, protected: (await protectionOf(aws, id)).termination, evidence });
  }
  if (chosen.length === 0) return blockedPlan(`Nothing to terminate: ${refused.join('; ')}`);
  const summary: string[] = [];
  for (const t of chosen) {
    summary.push(`${t.instanceId}: ${t.state} → terminated (launched by ${principal} at ${t.launch.at})${t.protected ? '; termination protection on → off first' : ''}`);
    summary.push(...t.evidence.map((e) => `evidence kept for ${t.instanceId}: ${e}`));
  }
  summary.push(...memoryLost);
  const data: TerminatePlanData = { principal, targets: chosen, refused };
  return {
    summary,
    warnings: [
      'Termination cannot be undone: the instances and their DeleteOnTermination volumes are gone for good; the snapshots above remain. Needs a second person\'s approval whatever the config says.',
      ...refused.map((r) => `Not terminated: ${r}`),
    ],
    steps: [...(chosen.some((t) => t.protected) ? ['lift termination protection'] : []), 'terminate instances', 'wait until terminated'],
    fingerprint: fingerprint(chosen.map((t) => [t.instanceId, t.protected, t.evidence])),
    data,
  };
}

async function execute(p: PlanView, ctx: ActionContext): Promise<ActionOutcome> {
  const { aws } = ctx;
  const data = p.data as TerminatePlanData;
  const ids = data.targets.map((t) => t.instanceId);
  const steps: { label: string; run: () => Promise<string | undefined> }[] = [];
  if (p.steps.includes('lift termination protection')) {
    steps.push({
      label: 'lift termination protection',
      run: async () => {
        for (const id of ids) {
          if ((await protectionOf(aws, id)).termination) await aws.send(aws.clients.ec2, new ModifyInstanceAttributeCommand({ InstanceId: id, DisableApiTermination: { Value: false } }));
        }
        return 'termination protection off';
      },
    });
  }
  steps.push(
    {
      label: 'terminate instances',
      run: async () => {
        const now = await instanceStates(ctx, ids);
        const left = ids.filter((id) => !['terminated', 'shutting-down'].includes(now.get(id) ?? 'terminated'));
        // A capture asked for since the plan (or a run resumed after a crash, which makes no new plan) still counts.
        const gate = left.length ? await memoryGate(ctx, left, { verb: 'terminate', command: `/ir terminate ${data.principal} ${left.join(' ')}`, wait: false }) : undefined;
        if (gate?.blocked) throw new FinalError(`${gate.blocked} Nothing was terminated.`);
        if (left.length) await aws.send(aws.clients.ec2, new TerminateInstancesCommand({ InstanceIds: left }));
        return left.length ? `termination requested for ${left.join(', ')}` : 'nothing left to terminate';
      },
    },
    { label: 'wait until terminated', run: () => waitForInstances(ctx, ids, 'terminated', p.steps.length) },
  );
  await runSteps(ctx, steps);
  const final = await instanceStates(ctx, ids);
  return {
    ok: ids.every((id) => (final.get(id) ?? 'terminated') === 'terminated'),
    lines: data.targets.map((t) => `${t.instanceId}: ${final.get(t.instanceId) ?? 'terminated (no longer listed)'} ${(final.get(t.instanceId) ?? 'terminated') === 'terminated' ? '✓' : '✗'}; evidence: ${t.evidence.join('; ')}`),
    notes: [`Launched by ${data.principal}; terminated after approval by a second person.`, ...data.refused.map((r) => `Not terminated: ${r}`)],
  };
}

export const terminateAction: ResponseAction = { plan, execute };
