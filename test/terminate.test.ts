import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { DescribeInstanceAttributeCommand, DescribeInstancesCommand, DescribeSnapshotsCommand, EC2Client, ModifyInstanceAttributeCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { terminateAction } from '../src/actions/terminate';
import { actionContext } from './support/mock-action-context';

const ec2 = mockClient(EC2Client);
const trail = mockClient(CloudTrailClient);

const KEY = 'AKIAIOSFODNN7EXAMPLE';
const MINER = 'i-0aaaaaaaaaaaaaaa1';
const OTHER = 'i-0bbbbbbbbbbbbbbb2';
const UNSNAPPED = 'i-0ccccccccccccccc3';
const CASE = 'case-7cc4f1c3';

const state = new Map<string, string>([[MINER, 'running'], [OTHER, 'running'], [UNSNAPPED, 'running']]);
const protectedIds = new Set([MINER]);
/** The case and request the snapshots were made under (tags ir:case, ir:request). */
let snapshotCase = CASE;
let snapshotRequest = 'snapshot-i-0aaaaaaaaaaaaaaa1-3';

function launch(instanceId: string, accessKeyId: string, arn: string) {
  return {
    EventName: 'RunInstances',
    EventTime: new Date('2026-11-30T02:10:00Z'),
    CloudTrailEvent: JSON.stringify({ eventName: 'RunInstances', eventTime: '2026-11-30T02:10:00Z', userIdentity: { accessKeyId, arn }, responseElements: { instancesSet: { items: [{ instanceId }] } } }),
  };
}

beforeEach(() => {
  snapshotCase = CASE;
  snapshotRequest = 'snapshot-i-0aaaaaaaaaaaaaaa1-3';
  ec2.reset();
  trail.reset();
  state.set(MINER, 'running');
  protectedIds.clear();
  protectedIds.add(MINER);
  const volumes = (id: string) => [
    { DeviceName: '/dev/xvda', Ebs: { VolumeId: `vol-${id.slice(3, 10)}a` } },
    { DeviceName: '/dev/xvdf', Ebs: { VolumeId: `vol-${id.slice(3, 10)}f` } },
  ];
  ec2.on(DescribeInstancesCommand).callsFake(async (i) => {
    const ids: string[] = i.InstanceIds ?? i.Filters?.[0]?.Values ?? [];
    return { Reservations: [{ Instances: ids.map((id) => ({ InstanceId: id, State: { Name: state.get(id) ?? 'running' }, BlockDeviceMappings: volumes(id) })) }] };
  });
  ec2.on(DescribeInstanceAttributeCommand).callsFake(async (i) => ({ DisableApiTermination: { Value: protectedIds.has(i.InstanceId) }, DisableApiStop: { Value: false } }));
  ec2.on(ModifyInstanceAttributeCommand).callsFake(async (i) => {
    if (i.DisableApiTermination?.Value === false) protectedIds.delete(i.InstanceId);
    return {};
  });
  ec2.on(TerminateInstancesCommand).callsFake(async (i) => {
    for (const id of i.InstanceIds) {
      if (protectedIds.has(id)) throw Object.assign(new Error('protected'), { name: 'OperationNotPermitted' });
      state.set(id, 'terminated');
    }
    return {};
  });
  trail.on(LookupEventsCommand).callsFake(async (i) => {
    const id = i.LookupAttributes[0].AttributeValue;
    if (id === OTHER) return { Events: [launch(OTHER, 'AKIAOPSTEAM000000001', 'arn:aws:iam::111122223333:user/ops')] };
    return { Events: [{ EventName: 'CreateTags', CloudTrailEvent: '{}' }, launch(id, KEY, 'arn:aws:iam::111122223333:user/ci-deployer')] };
  });
  ec2.on(DescribeSnapshotsCommand).callsFake(async (i) => {
    const id = i.Filters.find((f: { Name: string }) => f.Name === 'tag:ir:instance').Values[0];
    const caseTag = i.Filters.find((f: { Name: string }) => f.Name === 'tag:ir:case')?.Values[0];
    if (caseTag && caseTag !== snapshotCase) return { Snapshots: [] };
    const tags = [{ Key: 'ir:case', Value: snapshotCase }, { Key: 'ir:request', Value: snapshotRequest }, { Key: 'ir:instance', Value: id }];
    const snaps = [{ SnapshotId: `snap-${id.slice(3, 10)}a`, VolumeId: `vol-${id.slice(3, 10)}a`, State: 'completed' as const, StartTime: new Date('2026-11-30T03:00:00Z'), Tags: tags }];
    // The second volume of UNSNAPPED has a snapshot still pending: not verified evidence.
    snaps.push({ SnapshotId: `snap-${id.slice(3, 10)}f`, VolumeId: `vol-${id.slice(3, 10)}f`, State: (id === UNSNAPPED ? 'pending' : 'completed') as 'completed', StartTime: new Date('2026-11-30T03:00:00Z'), Tags: tags });
    return { Snapshots: snaps };
  });
});

const ctx = () => actionContext({ caseId: CASE, requestId: 'terminate-AKIAIOSFODNN7EXAMPLE-5' });

describe('terminate: eradicating what the compromised principal launched', () => {
  it('refuses an instance someone else launched', async () => {
    const plan = await terminateAction.plan([KEY, OTHER], ctx());
    expect(plan.blocked).toBe(
      `Nothing to terminate: ${OTHER} was launched by arn:aws:iam::111122223333:user/ops with key AKIAOPSTEAM000000001, not by ${KEY}: ir-bot terminates only what the compromised principal launched`,
    );
  });

  it('refuses an instance whose volumes do not all have a completed snapshot', async () => {
    const plan = await terminateAction.plan([KEY, UNSNAPPED], ctx());
    expect(plan.blocked).toContain(`${UNSNAPPED}: /dev/xvdf vol-cccccccf has no usable completed ir-bot snapshot of this instance; snapshot first`);
  });

  it('terminates an instance with no card: the snapshot of `/ir snapshot` counts for the `/ir terminate` that follows', async () => {
    // No card: each request is its own case, so the snapshot's case is its request id.
    snapshotCase = snapshotRequest = 'snapshot-i-0aaaaaaaaaaaaaaa1-3';
    const c = actionContext({ caseId: 'terminate-AKIAIOSFODNN7EXAMPLE-5', requestId: 'terminate-AKIAIOSFODNN7EXAMPLE-5' });
    const plan = await terminateAction.plan([KEY, MINER], c);
    expect(plan.blocked).toBeUndefined();
    expect(plan.summary).toContain(`evidence kept for ${MINER}: /dev/xvda vol-aaaaaaaa → snap-aaaaaaaa (completed, 2026-11-30T03:00:00.000Z, request snapshot-i-0aaaaaaaaaaaaaaa1-3)`);
    await terminateAction.execute(plan, c);
    expect(state.get(MINER)).toBe('terminated');
  });

  it('does not take an old snapshot from another incident for evidence of this one', async () => {
    snapshotCase = snapshotRequest = 'snapshot-i-0aaaaaaaaaaaaaaa1-3';
    // Four days after the snapshot (2026-11-30T03:00Z): past the 72 h a snapshot of another case counts for.
    const late = () => actionContext({ caseId: CASE, requestId: 'terminate-AKIAIOSFODNN7EXAMPLE-5', now: () => new Date('2026-12-04T04:00:00Z') });
    const plan = await terminateAction.plan([KEY, MINER], late());
    expect(plan.blocked).toContain(
      `${MINER}: /dev/xvda vol-aaaaaaaa (its newest ir-bot snapshot, snap-aaaaaaaa, 2026-11-30T03:00:00.000Z, request snapshot-i-0aaaaaaaaaaaaaaa1-3, is older than 72 h and of another case)`,
    );
    // A snapshot of the terminate's own case counts at any age.
    snapshotCase = CASE;
    expect((await terminateAction.plan([KEY, MINER], late())).blocked).toBeUndefined();
  });

  it('terminates only the instance that qualifies, lifting termination protection in the same plan, and lists the evidence', async () => {
    const c = ctx();
    const plan = await terminateAction.plan([KEY, MINER, OTHER, UNSNAPPED], c);
    expect(plan.blocked).toBeUndefined();
    expect(plan.summary).toEqual([
      `${MINER}: running → terminated (launched by ${KEY} at 2026-11-30T02:10:00Z); termination protection on → off first`,
      `evidence kept for ${MINER}: /dev/xvda vol-aaaaaaaa → snap-aaaaaaaa (completed, 2026-11-30T03:00:00.000Z)`,
      `evidence kept for ${MINER}: /dev/xvdf vol-aaaaaaaf → snap-aaaaaaaf (completed, 2026-11-30T03:00:00.000Z)`,
    ]);
    expect(plan.steps).toEqual(['lift termination protection', 'terminate instances', 'wait until terminated']);
    expect(plan.warnings.filter((w) => w.startsWith('Not terminated:'))).toHaveLength(2);
    const outcome = await terminateAction.execute(plan, c);
    expect(outcome.ok).toBe(true);
    expect(outcome.lines[0]).toMatch(new RegExp(`^${MINER}: terminated ✓; evidence: /dev/xvda`));
    expect(ec2.commandCalls(TerminateInstancesCommand).map((x) => x.args[0].input.InstanceIds)).toEqual([[MINER]]);
    expect(state.get(OTHER)).toBe('running');
    expect(state.get(UNSNAPPED)).toBe('running');
  });
});
