import {
  CopySnapshotCommand,
  CreateSnapshotCommand,
  CreateSnapshotsCommand,
  CreateTagsCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  ModifySnapshotAttributeCommand,
  type Snapshot,
} from '@aws-sdk/client-ec2';
import { DescribeKeyCommand } from '@aws-sdk/client-kms';
import { AwsCallError } from '../aws/errors';
import { ADVISORY_TIMEOUT_MS, advisory, couldNotCheck, type Checked } from './advisory';
import type { Responder } from '../aws/responder';
import type { ActionOutcome, PlanView } from './results';
import { InstanceUnavailable, findInstance } from './instance';
import { digestOutcome, digestPerInstance } from './plan-digest';
import { FinalError, NotYet, blockedPlan, fingerprint, runSteps, type ActionContext, type ResponseAction } from './types';

interface VolumePlan {
  instanceId: string;
  volumeId: string;
  device: string;
  sizeGiB?: number;
  encrypted: boolean;
  kmsKeyId?: string;
  /** How the snapshot reaches the forensic account, if one is configured. */
  share: 'none' | 'share' | 'copy-then-share' | 'refused';
}

interface SnapshotPlanData {
  volumes: VolumePlan[];
  skipped: string[];
}

interface Taken {
  snapshotId: string;
  volume: VolumePlan;
  state?: string;
  progress?: string;
  sizeGiB?: number;
  shared?: string;
}

/** Snapshots made for this request and instance, found by tag: how a re-run avoids a second set. */
async function existingSnapshots(aws: Responder, requestId: string, instanceId: string): Promise<Snapshot[]> {
  const out = await aws.send(
    aws.clients.ec2,
    new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'tag:ir:request', Values: [requestId] }, { Name: 'tag:ir:instance', Values: [instanceId] }] }),
  );
  return (out.Snapshots ?? []).filter((s) => !s.Tags?.some((t) => t.Key === 'ir:copy-of'));
}

/**
 * Snapshot ids this request made for an instance, by volume. A listing by tag can lag behind
 * CreateSnapshot(s) (EC2 is eventually consistent), so a quick retry also goes by what it recorded.
 */
export const snapshotRecordName = (requestId: string, instanceId: string) => `snapshots:${requestId}:${instanceId}`;
type MadeRecord = Record<string, string>;

async function keyIsAwsManaged(aws: Responder, keyId: string | undefined): Promise<boolean> {
  if (!keyId) return true; // encrypted without a key id: the account's default, AWS managed
  const out = await aws.send(aws.clients.kms, new DescribeKeyCommand({ KeyId: keyId }));
  return out.KeyMetadata?.KeyManager === 'AWS';
}

async function plan(instanceIds: string[], ctx: ActionContext): Promise<PlanView> {
  const { aws } = ctx;
  const volumes: VolumePlan[] = [];
  const skipped: string[] = [];
  const forensic = ctx.snapshot.forensicAccount;
  // Every instance is described at once: ten instances cost one round of calls, not ten.
  const perInstance = await Promise.all(
    instanceIds.map(async (id): Promise<{ volumes: VolumePlan[]; skipped?: string; unchecked?: string }> => {
      try {
        const i = await findInstance(aws, id);
        const mappings = (i.BlockDeviceMappings ?? []).filter((m) => m.Ebs?.VolumeId);
        if (mappings.length === 0) {
          return { volumes: [], skipped: `${id}: no EBS volumes attached (instance-store only): nothing to snapshot; capture its disk from inside the instance` };
        }
        const read = () => aws.send(aws.clients.ec2, new DescribeVolumesCommand({ VolumeIds: mappings.map((m) => m.Ebs!.VolumeId!) }));
        // Sizes and encryption only inform the plan, unless a forensic account decides by encryption how to share.
        const vols: Checked<Awaited<ReturnType<typeof read>>> = forensic ? { ok: true, value: await read() } : await advisory(ADVISORY_TIMEOUT_MS, read);
        return {
          unchecked: vols.ok ? undefined : vols.why,
          volumes: mappings.map((m) => {
            const v = vols.ok ? vols.value.Volumes?.find((x) => x.VolumeId === m.Ebs!.VolumeId) : undefined;
            return { instanceId: id, volumeId: m.Ebs!.VolumeId!, device: m.DeviceName ?? '?', sizeGiB: v?.Size, encrypted: !!v?.Encrypted, kmsKeyId: v?.KmsKeyId, share: 'none' as const };
          }),
        };
      } catch (err) {
        if (!(err instanceof InstanceUnavailable)) throw err;
        return { volumes: [], skipped: err.message };
      }
    }),
  );
  for (const r of perInstance) {
    volumes.push(...r.volumes);
    if (r.skipped) skipped.push(r.skipped);
  }
  if (volumes.length === 0) return blockedPlan(skipped.join('; ') || 'nothing to snapshot');

  const warnings = [...skipped];
  for (const why of new Set(perInstance.map((r) => r.unchecked).filter((w): w is string => !!w))) {
    const ids = instanceIds.filter((_, n) => perInstance[n].unchecked === why);
    warnings.push(`${couldNotCheck(`the size and encryption of the volumes of ${ids.join(', ')}`, why)}: they are snapshotted all the same.`);
  }
  if (forensic) {
    const awsManaged = await Promise.all(volumes.map((v) => (v.encrypted ? keyIsAwsManaged(aws, v.kmsKeyId) : Promise.resolve(false))));
    for (const [n, v] of volumes.entries()) {
      if (!awsManaged[n]) v.share = 'share';
      else if (ctx.snapshot.copyKmsKeyId) v.share = 'copy-then-share';
      else {
        v.share = 'refused';
        warnings.push(
          `${v.volumeId} is encrypted with the AWS managed key, which cannot be shared: its snapshot stays in this account. Set snapshot.copyKmsKeyId to a customer-managed key the forensic account can use.`,
        );
      }
    }
  }
  const set = (vs: VolumePlan[], ids: boolean) => `one crash-consistent set of ${vs.length} volume(s): ${vs.map((v) => `${v.device}${ids ? ` ${v.volumeId}` : ''} (${v.sizeGiB ?? '?'} GiB${v.encrypted ? ', encrypted' : ''})`).join(', ')}`;
  const then = [`tag each snapshot with the case (${ctx.caseId}), request, instance, device, requester and time`];
  if (forensic) {
    const share = volumes.filter((v) => v.share === 'share').length;
    const copy = volumes.filter((v) => v.share === 'copy-then-share').length;
    if (share) then.push(`share ${share} completed snapshot(s) with forensic account ${forensic} (createVolumePermission)`);
    if (copy) then.push(`copy ${copy} snapshot(s) with ${ctx.snapshot.copyKmsKeyId} and share the copies with ${forensic}`);
  }
  // Many instances with the same disks share one line; their volume ids are in the plan file.
  const { summary, detail } = digestPerInstance(
    [...new Set(volumes.map((v) => v.instanceId))].map((id) => {
      const vs = volumes.filter((v) => v.instanceId === id);
      return { id, same: set(vs, false), full: `${id}: ${set(vs, true)}` };
    }),
    ctx,
    'Snapshot',
    { then },
  );
  const data: SnapshotPlanData = { volumes, skipped };
  const steps = ['create snapshots', 'wait until completed', ...(forensic ? ['share with the forensic account'] : []), 'verify'];
  return { summary, warnings, steps, fingerprint: fingerprint(volumes.map((v) => [v.instanceId, v.volumeId])), data, detail };
}

function tagsFor(ctx: ActionContext, instanceId: string, now: string): { Key: string; Value: string }[] {
  return [
    { Key: 'Name', Value: `ir-bot evidence ${instanceId}` },
    { Key: 'ir:case', Value: ctx.caseId.slice(0, 255) },
    { Key: 'ir:request', Value: ctx.requestId },
    { Key: 'ir:instance', Value: instanceId },
    { Key: 'ir:requested-by', Value: ctx.requestedBy },
    { Key: 'ir:requested-at', Value: now },
  ];
}

/** CreateSnapshots cannot do every instance (e.g. some older or unsupported configurations): per volume then. */
const FALL_BACK_TO_PER_VOLUME = new Set(['UnsupportedOperation', 'InvalidParameterCombination', 'InvalidParameter', 'OperationNotPermitted']);

/** One snapshot per volume; a failed volume does not stop the others. */
async function createPerVolume(ctx: ActionContext, instanceId: string, volumes: VolumePlan[], now: string, description: string): Promise<{ made: { snapshotId: string; volumeId: string }[]; failed: { volume: VolumePlan; err: unknown }[] }> {
  const { aws } = ctx;
  const made: { snapshotId: string; volumeId: string }[] = [];
  const failed: { volume: VolumePlan; err: unknown }[] = [];
  for (const v of volumes) {
    try {
      const out = await aws.send(
        aws.clients.ec2,
        new CreateSnapshotCommand({
          VolumeId: v.volumeId,
          Description: `${description} device ${v.device}`.slice(0, 255),
          TagSpecifications: [{ ResourceType: 'snapshot', Tags: [...tagsFor(ctx, instanceId, now), { Key: 'ir:device', Value: v.device }] }],
        }),
      );
      made.push({ snapshotId: out.SnapshotId!, volumeId: v.volumeId });
    } catch (err) {
      failed.push({ volume: v, err });
    }
  }
  return { made, failed };
}

const volumeName = (v: VolumePlan) => `${v.volumeId} (${v.instanceId} ${v.device})`;

/**
 * The instance's set: the snapshots this request already made (found by tag, so a re-run makes no
 * second set), plus one for every volume still without a usable one. A volume AWS refused keeps
 * its reason for the result; one it throttled or failed transiently makes the step fail naming it,
 * so the retry creates exactly the missing snapshots.
 */
async function createSet(ctx: ActionContext, instanceId: string, volumes: VolumePlan[], now: string): Promise<{ taken: Taken[]; missing: Missing[] }> {
  const { aws } = ctx;
  const description = `ir-bot evidence: case ${ctx.caseId}, instance ${instanceId}, requested by ${ctx.requestedBy} at ${now} (request ${ctx.requestId})`.slice(0, 255);
  const listed = await existingSnapshots(aws, ctx.requestId, instanceId);
  const recordName = snapshotRecordName(ctx.requestId, instanceId);
  const recorded = (await ctx.records.get<MadeRecord>(recordName)) ?? {};
  // A snapshot that ended in `error` is no evidence: its volume gets a new one.
  const errored = new Set(listed.filter((s) => s.State === 'error').map((s) => s.SnapshotId));
  const snaps: { snapshotId: string; volumeId: string }[] = listed.filter((s) => !errored.has(s.SnapshotId)).map((s) => ({ snapshotId: s.SnapshotId!, volumeId: s.VolumeId! }));
  for (const [volumeId, snapshotId] of Object.entries(recorded)) {
    if (!errored.has(snapshotId) && !snaps.some((s) => s.snapshotId === snapshotId)) snaps.push({ snapshotId, volumeId });
  }
  const before = snaps.length;
  const failed: { volume: VolumePlan; err: unknown }[] = [];
  if (snaps.length === 0) {
    try {
      const out = await aws.send(
        aws.clients.ec2,
        new CreateSnapshotsCommand({
          InstanceSpecification: { InstanceId: instanceId, ExcludeBootVolume: false },
          Description: description,
          TagSpecifications: [{ ResourceType: 'snapshot', Tags: tagsFor(ctx, instanceId, now) }],
        }),
      );
      snaps.push(...(out.Snapshots ?? []).map((s) => ({ snapshotId: s.SnapshotId!, volumeId: s.VolumeId! })));
    } catch (err) {
      if (!(err instanceof AwsCallError && FALL_BACK_TO_PER_VOLUME.has(err.code))) throw err;
      const r = await createPerVolume(ctx, instanceId, volumes, now, description);
      snaps.push(...r.made);
      failed.push(...r.failed);
    }
  } else {
    // Part of the set exists (a per-volume run cut short): CreateSnapshots would copy every volume
    // again, so only the volumes without one get theirs.
    const lacking = volumes.filter((v) => !snaps.some((s) => s.volumeId === v.volumeId));
    if (lacking.length) {
      const r = await createPerVolume(ctx, instanceId, lacking, now, description);
      snaps.push(...r.made);
      failed.push(...r.failed);
    }
  }
  if (snaps.length > before) await ctx.records.replace(recordName, { ...recorded, ...Object.fromEntries(snaps.slice(before).map((s) => [s.volumeId, s.snapshotId])) } satisfies MadeRecord, ctx.now().getTime());
  const taken: Taken[] = [];
  for (const v of volumes) {
    const s = snaps.find((x) => x.volumeId === v.volumeId);
    if (s) taken.push({ snapshotId: s.snapshotId, volume: v });
  }
  // One set shares its tags; the device name is per snapshot.
  await Promise.all(
    taken.map((t) =>
      aws.send(aws.clients.ec2, new CreateTagsCommand({ Resources: [t.snapshotId], Tags: [{ Key: 'ir:device', Value: t.volume.device }, { Key: 'Name', Value: `ir-bot evidence ${instanceId} ${t.volume.device}` }] })),
    ),
  );
  const retryable = failed.find((f) => f.err instanceof AwsCallError && f.err.retryable);
  if (retryable) {
    const e = retryable.err as AwsCallError;
    const started = taken.map((t) => `${t.snapshotId} of ${t.volume.volumeId}`).join(', ');
    throw new AwsCallError(
      'transient',
      e.iamAction,
      e.code,
      `no snapshot of ${failed.map((f) => volumeName(f.volume)).join(', ')}: ${e.message}${started ? `; already started: ${started}` : ''}`,
    );
  }
  return { taken, missing: failed.map((f) => ({ volume: f.volume, reason: (f.err as Error).message })) };
}

interface Missing {
  volume: VolumePlan;
  reason: string;
}

async function describeSnapshots(aws: Responder, ids: string[]): Promise<Map<string, Snapshot>> {
  const out = await aws.send(aws.clients.ec2, new DescribeSnapshotsCommand({ SnapshotIds: ids }));
  return new Map((out.Snapshots ?? []).map((s) => [s.SnapshotId!, s]));
}

/**
 * Progress a reader can place: each volume with its instance when they are few; past four, the
 * slowest one, since a list of 22 device names says nothing about which instance lags.
 */
function progressOf(taken: Taken[]): string {
  const pct = (t: Taken) => Number.parseInt(t.progress ?? '', 10) || 0;
  if (taken.length <= 4) return taken.map((t) => `${t.volume.instanceId} ${t.volume.device} ${t.progress || '0%'}`).join(', ');
  const slowest = taken.filter((t) => t.state !== 'completed').sort((a, b) => pct(a) - pct(b))[0];
  return `slowest ${slowest.volume.instanceId} ${slowest.volume.device} at ${pct(slowest)}%`;
}

/**
 * Polls with doubling waits until every snapshot is completed; reports per-volume progress. A
 * snapshot can take hours: past a minute the wait goes back to Redis as a delayed job (NotYet),
 * which survives restarts and holds no worker; the deadline counts from the request's start.
 */
async function waitCompleted(ctx: ActionContext, step: number, total: number, taken: Taken[]): Promise<void> {
  if (taken.length === 0) return; // DescribeSnapshots without ids would list every snapshot
  const deadline = ctx.startedAt + ctx.snapshot.timeoutMinutes * 60_000;
  let wait = ctx.snapshot.pollIntervalMs;
  let waited = 0;
  for (;;) {
    const now = await describeSnapshots(ctx.aws, taken.map((t) => t.snapshotId));
    for (const t of taken) {
      const s = now.get(t.snapshotId);
      t.state = s?.State;
      t.progress = s?.Progress;
      t.sizeGiB = s?.VolumeSize;
      if (s?.State === 'error') throw new Error(`snapshot ${t.snapshotId} of ${t.volume.volumeId} (${t.volume.instanceId} ${t.volume.device}) failed: ${s.StateMessage ?? 'no reason given'}`);
    }
    const done = taken.filter((t) => t.state === 'completed').length;
    if (done === taken.length) return;
    await ctx.progress(step, total, `${done} of ${taken.length} completed; ${progressOf(taken)}`);
    if (Date.now() > deadline) throw new FinalError(`${taken.length - done} snapshot(s) still pending after ${ctx.snapshot.timeoutMinutes} min; they carry on in AWS`);
    if (waited >= ctx.snapshot.holdJobSeconds * 1000) throw new NotYet(ctx.snapshot.maxPollIntervalMs, `waiting for ${taken.length - done} snapshot(s) to complete; checked again every ${Math.round(ctx.snapshot.maxPollIntervalMs / 1000)} s`);
    await ctx.sleep(wait);
    waited += wait;
    wait = Math.min(wait * 2, ctx.snapshot.maxPollIntervalMs);
  }
}

async function share(ctx: ActionContext, t: Taken): Promise<string> {
  const { aws } = ctx;
  const account = ctx.snapshot.forensicAccount!;
  if (t.volume.share === 'refused') return 'not shared: encrypted with the AWS managed key ✗';
  let snapshotId = t.snapshotId;
  if (t.volume.share === 'copy-then-share') {
    const existing = await aws.send(aws.clients.ec2, new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: 'tag:ir:copy-of', Values: [t.snapshotId] }] }));
    snapshotId =
      existing.Snapshots?.[0]?.SnapshotId ??
      (
        await aws.send(
          aws.clients.ec2,
          new CopySnapshotCommand({
            SourceSnapshotId: t.snapshotId,
            SourceRegion: aws.region,
            Encrypted: true,
            KmsKeyId: ctx.snapshot.copyKmsKeyId,
            Description: `ir-bot shareable copy of ${t.snapshotId} (request ${ctx.requestId})`,
            TagSpecifications: [{ ResourceType: 'snapshot', Tags: [...tagsFor(ctx, t.volume.instanceId, ctx.now().toISOString()), { Key: 'ir:copy-of', Value: t.snapshotId }] }],
          }),
        )
      ).SnapshotId!;
    const copy: Taken = { snapshotId, volume: t.volume };
    await waitCompleted(ctx, 3, 4, [copy]);
  }
  await aws.send(aws.clients.ec2, new ModifySnapshotAttributeCommand({ SnapshotId: snapshotId, Attribute: 'createVolumePermission', OperationType: 'add', UserIds: [account] }));
  return snapshotId === t.snapshotId ? `shared with ${account} ✓` : `copied to ${snapshotId} with the forensic key and shared with ${account} ✓`;
}

async function execute(p: PlanView, ctx: ActionContext): Promise<ActionOutcome> {
  const data = p.data as SnapshotPlanData;
  const now = ctx.now().toISOString();
  const instances = [...new Set(data.volumes.map((v) => v.instanceId))];
  let taken: Taken[] = [];
  let missing: Missing[] = [];
  const steps = [
    {
      label: 'create snapshots',
      run: async () => {
        const sets = await Promise.all(instances.map((id) => createSet(ctx, id, data.volumes.filter((v) => v.instanceId === id), now)));
        taken = sets.flatMap((x) => x.taken);
        missing = sets.flatMap((x) => x.missing);
        return `${taken.length} snapshot(s) started: ${taken.map((t) => t.snapshotId).join(', ')}`;
      },
    },
    {
      label: 'wait until completed',
      run: async () => {
        await waitCompleted(ctx, 2, p.steps.length, taken);
        return `${taken.length} snapshot(s) completed`;
      },
    },
    ...(ctx.snapshot.forensicAccount
      ? [
          {
            label: 'share with the forensic account',
            run: async () => {
              await Promise.all(taken.map(async (t) => (t.shared = await share(ctx, t))));
              return 'sharing done';
            },
          },
        ]
      : []),
    {
      label: 'verify',
      run: async () => {
        // Read back, per planned volume: a completed snapshot of this request, or the volume fails.
        const states = taken.length ? await describeSnapshots(ctx.aws, taken.map((t) => t.snapshotId)) : new Map<string, Snapshot>();
        for (const t of taken) t.state = states.get(t.snapshotId)?.State ?? 'missing';
        return undefined;
      },
    },
  ];
  await runSteps(ctx, steps);
  const lines = data.volumes.map((v) => {
    const t = taken.find((x) => x.volume.volumeId === v.volumeId);
    if (!t) {
      const why = missing.find((m) => m.volume.volumeId === v.volumeId)?.reason ?? 'none was made';
      return `${v.instanceId} ${v.device} ${v.volumeId}: no snapshot of this request: ${why} ✗`;
    }
    return `${v.instanceId} ${v.device} ${v.volumeId} → ${t.snapshotId} (${t.sizeGiB ?? v.sizeGiB ?? '?'} GiB) ${t.state === 'completed' ? 'completed ✓' : `${t.state} ✗`}${t.shared ? `; ${t.shared}` : ''}`;
  });
  const az = 'AZ-of-your-forensic-workstation';
  const first = taken[0]?.snapshotId ?? 'snap-…';
  const notes = [
    ...(missing.length ? [`Not preserved: ${missing.map((m) => volumeName(m.volume)).join(', ')}. Snapshot ${missing.length === 1 ? 'it' : 'them'} by hand (aws ec2 create-snapshot --volume-id …) or ask again.`] : []),
    `To examine a snapshot in the forensic account: aws ec2 create-volume --snapshot-id ${first} --availability-zone ${az} --tag-specifications 'ResourceType=volume,Tags=[{Key=ir:case,Value=${ctx.caseId}}]', attach it to an isolated forensic workstation as a secondary disk and mount it read-only (mount -o ro,noload); never boot from it.`,
    ...data.skipped.map((s) => `Skipped: ${s}`),
  ];
  const complete = data.volumes.every((v) => taken.some((t) => t.volume.volumeId === v.volumeId && t.state === 'completed' && !t.shared?.endsWith('✗')));
  return digestOutcome({ ok: complete, lines, notes }, instances.length, ctx.requestId, (ok, all) => `${ok} of ${all} snapshots of ${instances.length} instances completed${ctx.snapshot.forensicAccount ? ' and shared' : ''} ✓`);
}

export const snapshotAction: ResponseAction = { plan, execute };
