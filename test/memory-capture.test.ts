import { DescribeInstanceAttributeCommand, DescribeInstancesCommand, DescribeInstanceTypesCommand, DescribeVpcEndpointsCommand, EC2Client, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { HeadObjectCommand, PutObjectTaggingCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeInstanceInformationCommand, GetCommandInvocationCommand, ListCommandsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { captureRecordName, memoryAction, type CaptureRecord } from '../src/actions/memory';
import { stopAction } from '../src/actions/stop';
import { FinalError, NotYet, StepFailure } from '../src/actions/types';
import { isolationRecordName } from '../src/actions/isolate';
import { actionContext } from './support/mock-action-context';

const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);
const s3 = mockClient(S3Client);

const ID = 'i-0a1b2c3d4e5f60718';
const SHA = 'a'.repeat(64);
const MEMORY = { evidenceBucket: 'ir-evidence', prefix: 'memory/', tools: { linux: 's3://ir-tools/avml/avml', windows: 's3://ir-tools/winpmem/winpmem_mini_x64.exe' } };
const KEY = `memory/case-7cc4f1c3/${ID}/memory-i-0a1b2c3d4e5f60718-1.lime`;

function instance(state = 'running', type = 'm5.xlarge') {
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: ID, State: { Name: state as 'running' }, InstanceType: type as 'm5.xlarge', VpcId: 'vpc-1' }] }] });
  ec2.on(DescribeInstanceTypesCommand).resolves({ InstanceTypes: [{ InstanceType: type as 'm5.xlarge', MemoryInfo: { SizeInMiB: 16384 } }] });
  ec2.on(DescribeVpcEndpointsCommand).resolves({ VpcEndpoints: [] });
  ec2.on(DescribeInstanceAttributeCommand).resolves({ DisableApiStop: { Value: false }, DisableApiTermination: { Value: false } });
}

function agent(ping = 'Online', platform: 'Linux' | 'Windows' | 'MacOS' = 'Linux') {
  ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: ID, PingStatus: ping as 'Online', PlatformType: platform, PlatformName: 'Amazon Linux', PlatformVersion: '2023' }] });
}

const done = (bytes: number) => `IRBOT stage=capture\nIRBOT stage=upload bytes=${bytes}\nIRBOT done sha256=${SHA} bytes=${bytes}\n`;

beforeEach(() => {
  ec2.reset();
  ssm.reset();
  s3.reset();
});

describe('memory capture: plan', () => {
  it('says what runs where, where the image goes, how large and how long, and warns about isolation and the 5 GiB upload', async () => {
    instance();
    agent();
    const ctx = actionContext({ file: { memory: MEMORY } });
    const plan = await memoryAction.plan([ID], ctx);
    expect(plan.blocked).toBeUndefined();
    expect(plan.summary[0]).toBe(`${ID} (Amazon Linux 2023, SSM agent online): AVML (s3://ir-tools/avml/avml) via AWS-RunShellScript → s3://ir-evidence/${KEY}; 16 GiB of memory, ~6 min`);
    expect(plan.summary[1]).toContain('tagged with the case (case-7cc4f1c3)');
    expect(plan.warnings.join('\n')).toContain(`Capture ${ID} before isolating it: the quarantine group cuts the agent's path to SSM and S3`);
    expect(plan.warnings.join('\n')).toContain('one upload carries at most 5 GiB');
  });

  it('warns that an isolated instance without VPC endpoints may not reach SSM or S3', async () => {
    instance();
    agent();
    const ctx = actionContext({ file: { memory: MEMORY } });
    await ctx.records.putIfAbsent(isolationRecordName(ID), { requestId: 'isolate-x-1' });
    const plan = await memoryAction.plan([ID], ctx);
    expect(plan.warnings.join('\n')).toContain(`${ID} is isolated and its VPC lacks the ssm/ssmmessages/ec2messages interface endpoints and an S3 endpoint`);
  });

  it.each([
    ['the instance is stopped', () => (instance('stopped'), agent()), `${ID} is stopped: memory exists only while it runs (what was in memory is gone)`],
    ['no SSM agent is registered', () => (instance(), ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] })), `${ID} has no SSM agent registered`],
    ['the agent lost its connection', () => (instance(), agent('ConnectionLost')), `${ID}: its SSM agent is ConnectionLost`],
    ['the platform is unknown', () => (instance(), agent('Online', 'MacOS')), `${ID}: platform MacOS; capture is supported on Linux (AVML) and Windows (winpmem) only`],
  ])('refuses when %s', async (_what, arrange, message) => {
    arrange();
    const plan = await memoryAction.plan([ID], actionContext({ file: { memory: MEMORY } }));
    expect(plan.blocked).toContain('Memory cannot be captured');
    expect(plan.blocked).toContain(message);
  });

  it('refuses when no evidence bucket is configured', async () => {
    const plan = await memoryAction.plan([ID], actionContext());
    expect(plan.blocked).toContain('set `memory.evidenceBucket`');
  });
});

describe('memory capture: execute', () => {
  async function planned() {
    instance();
    agent();
    const ctx = actionContext({ file: { memory: MEMORY } });
    return { ctx, plan: await memoryAction.plan([ID], ctx) };
  }

  it('runs AVML through SSM with presigned URLs, stores the command id before waiting, shows progress, and verifies size, metadata and hash', async () => {
    const { ctx, plan } = await planned();
    ssm.on(ListCommandsCommand).resolves({ Commands: [] });
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    let polls = 0;
    ssm.on(GetCommandInvocationCommand).callsFake(async () => {
      // The command id is on record before the first status check.
      expect((await ctx.records.get<CaptureRecord>(captureRecordName(ID)))?.commandId).toBe('cmd-1');
      polls++;
      if (polls === 1) return { Status: 'InProgress', StandardOutputContent: 'IRBOT stage=capture\nIRBOT stage=upload bytes=3221225472\n' };
      return { Status: 'Success', StandardOutputContent: done(3221225472) };
    });
    s3.on(HeadObjectCommand).resolves({ ContentLength: 3221225472, Metadata: { 'ir-case': 'case-7cc4f1c3', 'ir-instance': ID, 'ir-request': ctx.requestId, 'ir-requested-by': 'U01ANA' } });
    s3.on(PutObjectTaggingCommand).resolves({});

    const outcome = await memoryAction.execute(plan, ctx);

    expect(outcome.ok).toBe(true);
    expect(outcome.lines).toEqual([`${ID}: s3://ir-evidence/${KEY}, 3.00 GiB (3221225472 bytes), sha256 ${SHA} ✓`]);
    const sent = ssm.commandCalls(SendCommandCommand);
    expect(sent).toHaveLength(1);
    const input = sent[0].args[0].input;
    expect(input.DocumentName).toBe('AWS-RunShellScript');
    expect(input.InstanceIds).toEqual([ID]);
    const script = input.Parameters!.commands.join('\n');
    expect(script).toMatch(/curl -fsS -o "\$W\/avml" 'https:\/\/ir-tools\.s3\.us-east-1\.amazonaws\.com\/avml\/avml\?[^']*X-Amz-Signature=/);
    expect(script).toContain(`https://ir-evidence.s3.us-east-1.amazonaws.com/${KEY}?`);
    expect(script).toContain('x-amz-meta-ir-instance=');
    expect(script).toContain('sha256sum');
    expect(ctx.progressLog).toContain(`2/3 ${ID} InProgress (uploading 3.00 GiB)`);
    const tags = s3.commandCalls(PutObjectTaggingCommand)[0].args[0].input.Tagging!.TagSet!;
    expect(Object.fromEntries(tags.map((t) => [t.Key, t.Value]))).toEqual({ 'ir:case': 'case-7cc4f1c3', 'ir:instance': ID, 'ir:request': ctx.requestId, 'ir:requested-by': 'U01ANA', 'ir:sha256': SHA });
  });

  it('runs winpmem through AWS-RunPowerShellScript on Windows', async () => {
    instance();
    agent('Online', 'Windows');
    const ctx = actionContext({ file: { memory: MEMORY } });
    const plan = await memoryAction.plan([ID], ctx);
    expect(plan.summary[0]).toContain('winpmem (s3://ir-tools/winpmem/winpmem_mini_x64.exe) via AWS-RunPowerShellScript');
    ssm.on(ListCommandsCommand).resolves({ Commands: [] });
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-w' } });
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', StandardOutputContent: done(100) });
    s3.on(HeadObjectCommand).resolves({ ContentLength: 100, Metadata: { 'ir-case': 'case-7cc4f1c3', 'ir-instance': ID } });
    const outcome = await memoryAction.execute(plan, ctx);
    expect(ssm.commandCalls(SendCommandCommand)[0].args[0].input.DocumentName).toBe('AWS-RunPowerShellScript');
    expect(ssm.commandCalls(SendCommandCommand)[0].args[0].input.Parameters!.commands.join('\n')).toContain('Get-FileHash -Algorithm SHA256');
    expect(outcome.lines[0]).toContain(`.raw, 0.00 GiB (100 bytes), sha256 ${SHA} ✓`);
  });

  it('after a crash follows the command already sent instead of starting a second capture', async () => {
    const { ctx, plan } = await planned();
    // Crash after SendCommand, before its id was stored: SSM still knows it by its comment.
    ssm.on(ListCommandsCommand).resolves({ Commands: [{ CommandId: 'cmd-earlier', Comment: `ir-bot memory ${ctx.requestId}` }] });
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', StandardOutputContent: done(10) });
    s3.on(HeadObjectCommand).resolves({ ContentLength: 10, Metadata: { 'ir-case': 'case-7cc4f1c3', 'ir-instance': ID } });
    await memoryAction.execute(plan, ctx);
    // And a second re-run reads the stored id without asking SSM for the list.
    ssm.resetHistory();
    await memoryAction.execute(plan, ctx);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
    expect(ssm.commandCalls(ListCommandsCommand)).toHaveLength(0);
    expect(ssm.commandCalls(GetCommandInvocationCommand)[0].args[0].input.CommandId).toBe('cmd-earlier');
  });

  it('hands a long capture back to Redis (NotYet) and, run again, follows the same command to the end', async () => {
    const { ctx, plan } = await planned();
    ssm.on(ListCommandsCommand).resolves({ Commands: [] });
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-long' } });
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'InProgress', StandardOutputContent: 'IRBOT stage=capture\n' });
    const err = await memoryAction.execute(plan, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotYet);
    expect((err as NotYet).note).toBe(`memory capture running: ${ID} InProgress (capturing)`);
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', StandardOutputContent: done(10) });
    s3.on(HeadObjectCommand).resolves({ ContentLength: 10, Metadata: { 'ir-case': 'case-7cc4f1c3', 'ir-instance': ID } });
    const outcome = await memoryAction.execute(plan, ctx);
    expect(outcome.ok).toBe(true);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(1);
  });

  it('fails with the tool\'s error when the capture fails, and uploads nothing to verify', async () => {
    const { ctx, plan } = await planned();
    ssm.on(ListCommandsCommand).resolves({ Commands: [] });
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-2' } });
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Failed', StandardOutputContent: 'IRBOT stage=capture\n', StandardErrorContent: 'Error: unable to read physical memory: /dev/crash not available' });
    const err = await memoryAction.execute(plan, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FinalError);
    expect((err as Error).message).toBe(`memory capture failed: ${ID}: capture Failed (command cmd-2): Error: unable to read physical memory: /dev/crash not available ✗`);
    expect(s3.commandCalls(HeadObjectCommand)).toHaveLength(0);
  });

  it('reports a size that S3 does not confirm', async () => {
    const { ctx, plan } = await planned();
    ssm.on(ListCommandsCommand).resolves({ Commands: [] });
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-3' } });
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', StandardOutputContent: done(2048) });
    s3.on(HeadObjectCommand).resolves({ ContentLength: 1024, Metadata: { 'ir-case': 'case-7cc4f1c3', 'ir-instance': ID } });
    const outcome = await memoryAction.execute(plan, ctx);
    expect(outcome.ok).toBe(false);
    expect(outcome.lines[0]).toContain('S3 holds 1024 bytes, the instance wrote 2048 ✗');
  });
});

describe('a stop after a memory capture', () => {
  const record: CaptureRecord = { requestId: 'memory-i-0a1b2c3d4e5f60718-1', instanceId: ID, commandId: 'cmd-9', bucket: 'ir-evidence', key: KEY, account: '111122223333', region: 'us-east-1', startedAt: '2026-12-01T06:59:00Z' };

  function stopContext(reason?: string) {
    const ctx = actionContext({ file: { memory: MEMORY }, requestId: 'stop-i-0a1b2c3d4e5f60718-2', reason });
    ctx.records.values.set(captureRecordName(ID), record);
    return ctx;
  }

  it('waits for the capture to finish before stopping', async () => {
    instance();
    const statuses = ['InProgress', 'InProgress', 'InProgress', 'Success'];
    ssm.on(GetCommandInvocationCommand).callsFake(async () => ({ Status: statuses.shift() ?? 'Success', StandardOutputContent: '' }));
    let stoppedWhileCapturing = false;
    const ctx = stopContext();
    const plan = await stopAction.plan([ID], ctx);
    expect(plan.blocked).toBeUndefined();
    expect(plan.steps[0]).toBe('wait for memory capture');
    expect(plan.summary).toContain(`${ID}: first wait for its memory capture (memory-i-0a1b2c3d4e5f60718-1, SSM command cmd-9, InProgress) to finish`);
    let now = 'running';
    ec2.on(DescribeInstancesCommand).callsFake(async () => ({ Reservations: [{ Instances: [{ InstanceId: ID, State: { Name: now } }] }] }));
    ec2.on(StopInstancesCommand).callsFake(async () => {
      stoppedWhileCapturing = statuses.length > 0;
      now = 'stopped';
      return {};
    });
    const outcome = await stopAction.execute(plan, ctx);
    expect(outcome.ok).toBe(true);
    expect(ec2.commandCalls(StopInstancesCommand)).toHaveLength(1);
    expect(stoppedWhileCapturing).toBe(false);
    expect(ctx.progressLog).toContain(`1/3 waiting for the memory capture of ${ID}`);
  });

  it('is blocked by a failed capture until someone chooses to go on without memory', async () => {
    instance();
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Failed', StandardOutputContent: '' });
    const blocked = await stopAction.plan([ID], stopContext());
    expect(blocked.blocked).toBe(
      `The memory capture of ${ID} (memory-i-0a1b2c3d4e5f60718-1: Failed) failed, and stopping destroys what is in memory. Capture again (\`/ir memory ${ID}\`), or go on without memory: \`/ir stop ${ID} without-memory\`.`,
    );
    const waived = await stopAction.plan([ID], stopContext('without-memory the miner is burning money'));
    expect(waived.blocked).toBeUndefined();
    expect(waived.summary).toContain(`${ID}: its memory capture ended Failed; stopping anyway, as asked (without-memory): memory is lost`);
  });

  it('does not stop when the capture it waited on fails', async () => {
    instance();
    const statuses = ['InProgress', 'InProgress', 'TimedOut'];
    ssm.on(GetCommandInvocationCommand).callsFake(async () => ({ Status: statuses.shift() ?? 'TimedOut' }));
    const ctx = stopContext();
    const plan = await stopAction.plan([ID], ctx);
    const err = await stopAction.execute(plan, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepFailure);
    expect((err as StepFailure).cause).toBeInstanceOf(FinalError);
    expect((err as Error).message).toContain(`the memory capture of ${ID} (memory-i-0a1b2c3d4e5f60718-1) ended TimedOut, so nothing was stopped`);
    expect(ec2.commandCalls(StopInstancesCommand)).toHaveLength(0);
  });
});
