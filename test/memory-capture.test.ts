import { DescribeInstanceAttributeCommand, DescribeInstancesCommand, DescribeInstanceTypesCommand, DescribeVpcEndpointsCommand, EC2Client, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { HeadObjectCommand, PutObjectTaggingCommand, S3Client } from '@aws-sdk/client-s3';
import { AwsCallError } from '../src/aws/errors';
import { DescribeInstanceInformationCommand, GetCommandInvocationCommand, ListCommandsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { captureRecordName, memoryAction, type CaptureRecord } from '../src/actions/memory';
import { terminateAction } from '../src/actions/terminate';
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { DescribeSnapshotsCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { stopAction } from '../src/actions/stop';
import { FinalError, NotYet, StepFailure } from '../src/actions/types';
import { isolationRecordName } from '../src/actions/isolate';
import { actionContext } from './support/mock-action-context';
import { awsError } from './support/fake-aws';

const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);
const s3 = mockClient(S3Client);
const trail = mockClient(CloudTrailClient);

const ID = 'i-0a1b2c3d4e5f60718';
const SHA = 'a'.repeat(64);
const MEMORY = { evidenceBucket: 'ir-evidence', prefix: 'memory/', tools: { linux: 's3://ir-tools/avml/avml', windows: 's3://ir-tools/winpmem/winpmem_mini_x64.exe' } };
/** The base64 form S3 uses for x-amz-checksum-sha256. */
const sha256Base64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
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

beforeEach(() => {
  ec2.reset();
  ssm.reset();
  s3.reset();
  trail.reset();
});

describe('memory capture: plan', () => {
  it('says what runs where, where the image goes, how large and how long, and warns about isolation and the 5 GiB upload', async () => {
    instance();
    agent();
    const ctx = actionContext({ file: { memory: MEMORY } });
    const plan = await memoryAction.plan([ID], ctx);
    expect(plan.blocked).toBeUndefined();
    expect(plan.summary[0]).toBe(`${ID} (Amazon Linux 2023, SSM agent online): AVML (s3://ir-tools/avml/avml) via SSM document ir-bot-memory-capture → s3://ir-evidence/${KEY}; 16 GiB of memory, ~6 min`);
    expect(plan.summary[1]).toContain('accepted only with the SHA-256 the instance reports and only to an empty key');
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

  it('a denied VPC-endpoint check does not stop the plan: it says it could not check, and why', async () => {
    instance();
    agent();
    ec2.on(DescribeVpcEndpointsCommand).rejects(awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403));
    const ctx = actionContext({ file: { memory: MEMORY } });
    await ctx.records.putIfAbsent(isolationRecordName(ID), { requestId: 'isolate-x-1' });
    const plan = await memoryAction.plan([ID], ctx);
    expect(plan.blocked).toBeUndefined();
    expect(plan.warnings).toContain(
      `could not check whether the VPC of ${ID} has the SSM and S3 endpoints the agent needs once isolated: access denied: the bot's role may not call ec2:DescribeVpcEndpoints. ${ID} is isolated: without them the agent cannot reach SSM or S3 and the capture fails.`,
    );
    expect(plan.summary[0]).toContain('16 GiB of memory');
  });

  it('a throttled memory-size read leaves a Linux capture planned with the size unknown, and says why', async () => {
    instance();
    agent();
    ec2.on(DescribeInstanceTypesCommand).rejects(awsError('RequestLimitExceeded', 'Request limit exceeded.', 503));
    const plan = await memoryAction.plan([ID], actionContext({ file: { memory: MEMORY } }));
    expect(plan.blocked).toBeUndefined();
    expect(plan.summary[0]).toContain('? GiB of memory, unknown duration');
    expect(plan.warnings).toContain('could not check the memory size of m5.xlarge: AWS throttled ec2:DescribeInstanceTypes: size and duration are unknown.');
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

  it('refuses (does not just warn about) a Windows capture whose memory exceeds what one upload carries', async () => {
    instance();
    agent('Online', 'Windows');
    const plan = await memoryAction.plan([ID], actionContext({ file: { memory: MEMORY } }));
    expect(plan.blocked).toBe(`Memory cannot be captured: ${ID} has 16 GiB of memory: its raw Windows image would exceed the 5 GiB one upload can carry, so it is not captured. Capture it by hand (winpmem to an attached volume).`);
  });

  it('over five instances says the shared capture once and files each image key', async () => {
    const ids = [1, 2, 3, 4, 5].map((n) => `i-0a1b2c3d4e5f6071${n}`);
    instance();
    for (const id of ids) ec2.on(DescribeInstancesCommand, { InstanceIds: [id] }).resolves({ Reservations: [{ Instances: [{ InstanceId: id, State: { Name: 'running' }, InstanceType: 'm5.xlarge', VpcId: 'vpc-1' }] }] });
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: ids.map((id) => ({ InstanceId: id, PingStatus: 'Online', PlatformType: 'Linux', PlatformName: 'Amazon Linux', PlatformVersion: '2023' })) });
    const ctx = actionContext({ file: { memory: MEMORY } });
    const plan = await memoryAction.plan(ids, ctx);
    expect(plan.blocked).toBeUndefined();
    expect(plan.summary[0]).toBe('5 instances: Amazon Linux 2023, SSM agent online: AVML (s3://ir-tools/avml/avml) via SSM document ir-bot-memory-capture → s3://ir-evidence/memory/case-7cc4f1c3/<instance>/…; 16 GiB of memory, ~6 min');
    expect(plan.summary.at(-1)).toBe(`Every instance, one line each: ${plan.detail!.filename} in this thread`);
    for (const id of ids) expect(plan.detail!.content).toContain(`${id} (Amazon Linux 2023, SSM agent online): AVML (s3://ir-tools/avml/avml) via SSM document ir-bot-memory-capture → s3://ir-evidence/memory/case-7cc4f1c3/${id}/`);
  });

  it('refuses when no evidence bucket is configured', async () => {
    const plan = await memoryAction.plan([ID], actionContext());
    expect(plan.blocked).toContain('set `memory.evidenceBucket`');
  });
});

describe('memory capture: execute', () => {
  const HEX = 'c'.repeat(64);
  const B64 = sha256Base64(HEX);
  const captured = (bytes: number) => `IRBOT stage=capture\nIRBOT captured sha256=${HEX} bytes=${bytes}\n`;

  async function planned(memory: Record<string, unknown> = MEMORY, platform: 'Linux' | 'Windows' = 'Linux', type = 'm5.xlarge') {
    instance('running', type);
    agent('Online', platform);
    if (type !== 'm5.xlarge') ec2.on(DescribeInstanceTypesCommand).resolves({ InstanceTypes: [{ InstanceType: type as 'm5.xlarge', MemoryInfo: { SizeInMiB: 4096 } }] });
    const ctx = actionContext({ file: { memory } });
    return { ctx, plan: await memoryAction.plan([ID], ctx) };
  }

  /** SSM as it answers the two commands: capture (cmd-cap) then upload (cmd-up). */
  function ssmRuns(capture: object, upload: object = { Status: 'Success', StandardOutputContent: 'IRBOT stage=upload bytes=3221225472\nIRBOT uploaded\n' }) {
    ssm.on(ListCommandsCommand).resolves({ Commands: [] });
    ssm.on(SendCommandCommand).callsFake(async (i) => ({ Command: { CommandId: i.Parameters.action[0] === 'capture' ? 'cmd-cap' : 'cmd-up' } }));
    ssm.on(GetCommandInvocationCommand).callsFake(async (i) => (i.CommandId === 'cmd-cap' ? capture : upload));
  }

  const head = (over: object = {}) => ({ ContentLength: 3221225472, ChecksumSHA256: B64, VersionId: 'v-3Lg1', Metadata: { 'ir-case': 'case-7cc4f1c3', 'ir-instance': ID }, ...over });

  it('runs our SSM document with parameters only, uploads through a URL bound to the hash and an empty key, and verifies against S3\'s checksum', async () => {
    const { ctx, plan } = await planned({ ...MEMORY, evidenceRegion: 'eu-west-1' });
    ssmRuns({ Status: 'Success', StandardOutputContent: captured(3221225472) });
    s3.on(HeadObjectCommand).resolves(head());
    s3.on(PutObjectTaggingCommand).resolves({});

    const outcome = await memoryAction.execute(plan, ctx);

    expect(outcome.ok).toBe(true);
    expect(outcome.lines).toEqual([`${ID}: s3://ir-evidence/${KEY}, version v-3Lg1, 3.00 GiB (3221225472 bytes), sha256 ${HEX} ✓ (S3's checksum matches)`]);
    const [capture, upload] = ssm.commandCalls(SendCommandCommand).map((c) => c.args[0].input);
    for (const c of [capture, upload]) {
      expect(c.DocumentName).toBe('ir-bot-memory-capture');
      expect(c.InstanceIds).toEqual([ID]);
    }
    // No script travels with the command: only the document's parameters.
    expect(Object.keys(capture.Parameters!).sort()).toEqual(['action', 'captureId', 'executionTimeout', 'minFreeMiB', 'toolUrl', 'workDir']);
    expect(capture.Parameters!.workDir).toEqual(['/var/tmp']);
    expect(capture.Parameters!.minFreeMiB).toEqual([String(16384 + 256)]);
    expect(capture.Parameters!.toolUrl[0]).toMatch(/^https:\/\/ir-tools\.s3\.us-east-1\.amazonaws\.com\/avml\/avml\?.*X-Amz-Expires=900&/);
    const put = new URL(upload.Parameters!.uploadUrl[0]);
    expect(put.host).toBe('ir-evidence.s3.eu-west-1.amazonaws.com');
    expect(put.searchParams.get('X-Amz-Credential')).toContain('/eu-west-1/s3/');
    expect(put.searchParams.get('X-Amz-SignedHeaders')).toBe('host;if-none-match;x-amz-checksum-sha256');
    expect(Number(put.searchParams.get('X-Amz-Expires'))).toBeLessThanOrEqual(720);
    expect(upload.Parameters!.sha256).toEqual([B64]);
    const h = s3.commandCalls(HeadObjectCommand)[0];
    expect(h.args[0].input).toMatchObject({ Bucket: 'ir-evidence', Key: KEY, ChecksumMode: 'ENABLED' });
    expect(await h.thisValue.config.region()).toBe('eu-west-1');
    expect(await ctx.records.get<CaptureRecord>(captureRecordName(ID))).toMatchObject({ status: 'verified', commandId: 'cmd-cap', image: { versionId: 'v-3Lg1', sha256: HEX, bytes: 3221225472 } });
    expect(ctx.progressLog).toContain('1/5 send capture commands');
    expect(ctx.progressLog).toContain('5/5 verify the images');
  });

  it('does not call an image verified when S3\'s checksum differs from the one reported, and the record says so', async () => {
    const { ctx, plan } = await planned();
    ssmRuns({ Status: 'Success', StandardOutputContent: captured(3221225472) });
    s3.on(HeadObjectCommand).resolves(head({ ChecksumSHA256: sha256Base64('d'.repeat(64)) }));
    const err = await memoryAction.execute(plan, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FinalError);
    expect((err as Error).message).toContain(`not verified: S3's SHA-256 is ${sha256Base64('d'.repeat(64))}, the instance reported ${B64}`);
    expect(s3.commandCalls(PutObjectTaggingCommand)).toHaveLength(0);
    expect(await ctx.records.get<CaptureRecord>(captureRecordName(ID))).toMatchObject({ status: 'failed' });
  });

  it('after a crash follows the commands already sent instead of starting second ones', async () => {
    const { ctx, plan } = await planned();
    // Crash after SendCommand, before its id was stored: SSM still knows it by its comment.
    ssm.on(ListCommandsCommand).resolves({ Commands: [{ CommandId: 'cmd-earlier', Comment: `ir-bot memory ${ctx.requestId}` }, { CommandId: 'cmd-up-earlier', Comment: `ir-bot memory upload ${ctx.requestId}` }] });
    ssm.on(GetCommandInvocationCommand).callsFake(async (i) => (i.CommandId === 'cmd-earlier' ? { Status: 'Success', StandardOutputContent: captured(10) } : { Status: 'Success', StandardOutputContent: 'IRBOT uploaded\n' }));
    s3.on(HeadObjectCommand).resolves(head({ ContentLength: 10 }));
    await memoryAction.execute(plan, ctx);
    ssm.resetHistory();
    await memoryAction.execute(plan, ctx);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
    expect(ssm.commandCalls(ListCommandsCommand)).toHaveLength(0);
  });

  it('hands a long capture back to Redis (NotYet) and, run again, follows the same command to the end', async () => {
    const { ctx, plan } = await planned();
    ssmRuns({ Status: 'InProgress', StandardOutputContent: 'IRBOT stage=capture\n' });
    const err = await memoryAction.execute(plan, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotYet);
    expect((err as NotYet).note).toBe(`memory capture running: ${ID} InProgress (capturing)`);
    expect(await ctx.records.get<CaptureRecord>(captureRecordName(ID))).toMatchObject({ status: 'sent', commandId: 'cmd-cap' });
    ssmRuns({ Status: 'Success', StandardOutputContent: captured(10) });
    s3.on(HeadObjectCommand).resolves(head({ ContentLength: 10 }));
    const outcome = await memoryAction.execute(plan, ctx);
    expect(outcome.ok).toBe(true);
    expect(ssm.commandCalls(SendCommandCommand).map((c) => c.args[0].input.Parameters!.action[0])).toEqual(['capture', 'upload']);
  });

  it('fails with the script\'s own error when the capture fails, and uploads nothing', async () => {
    const { ctx, plan } = await planned();
    ssmRuns({ Status: 'Failed', StandardOutputContent: '', StandardErrorContent: 'IRBOT error=/var/tmp has 900 MiB free; the capture needs 16640 MiB\n' });
    const err = await memoryAction.execute(plan, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FinalError);
    expect((err as Error).message).toBe(`memory capture failed: ${ID}: capture Failed (command cmd-cap): /var/tmp has 900 MiB free; the capture needs 16640 MiB ✗`);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(1);
    expect(s3.commandCalls(HeadObjectCommand)).toHaveLength(0);
  });

  it('does not upload a Linux image larger than one PUT carries', async () => {
    const { ctx, plan } = await planned();
    ssmRuns({ Status: 'Success', StandardOutputContent: captured(6 * 1024 ** 3) });
    const err = await memoryAction.execute(plan, ctx).catch((e: unknown) => e);
    expect((err as Error).message).toContain('the image is 6.00 GiB, more than the 5 GiB one upload carries: not uploaded; it stays in /var/tmp on the instance');
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(1);
  });

  it('uses the configured scratch directory', async () => {
    const { ctx, plan } = await planned({ ...MEMORY, scratchDir: { linux: '/data/ir' } });
    ssmRuns({ Status: 'InProgress' });
    await memoryAction.execute(plan, ctx).catch(() => undefined);
    expect(ssm.commandCalls(SendCommandCommand)[0].args[0].input.Parameters!.workDir).toEqual(['/data/ir']);
  });
});

describe('stop and terminate count only a verified memory image', () => {
  const record: CaptureRecord = { requestId: 'memory-i-0a1b2c3d4e5f60718-1', instanceId: ID, status: 'sent', commandId: 'cmd-9', bucket: 'ir-evidence', key: KEY, account: '111122223333', region: 'us-east-1', startedAt: '2026-12-01T06:59:00Z' };

  function stopContext(reason?: string, rec: CaptureRecord | undefined = record) {
    const ctx = actionContext({ file: { memory: MEMORY }, requestId: 'stop-i-0a1b2c3d4e5f60718-2', reason });
    if (rec) ctx.records.values.set(captureRecordName(ID), rec);
    return ctx;
  }

  it('a capture request that failed before SendCommand (AccessDenied on DescribeInstanceInformation) blocks the stop', async () => {
    instance();
    ssm.on(DescribeInstanceInformationCommand).rejects(Object.assign(new Error('User is not authorized to perform: ssm:DescribeInstanceInformation'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }));
    const memoryCtx = actionContext({ file: { memory: MEMORY } });
    const err = await memoryAction.plan([ID], memoryCtx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsCallError);
    // The stop runs later, on the same records.
    const ctx = stopContext(undefined, undefined);
    for (const [k, v] of memoryCtx.records.values) ctx.records.values.set(k, v);
    ec2.on(StopInstancesCommand).resolves({});
    const plan = await stopAction.plan([ID], ctx);
    expect(plan.blocked).toContain(`No verified memory image of ${ID} (memory-i-0a1b2c3d4e5f60718-1: the capture request failed before any command was sent:`);
    expect(plan.blocked).toContain(`\`/ir stop ${ID} without-memory\``);
  });

  it('a capture refused at plan time (agent offline) also blocks the stop until without-memory', async () => {
    instance();
    agent('ConnectionLost');
    const memoryCtx = actionContext({ file: { memory: MEMORY } });
    expect((await memoryAction.plan([ID], memoryCtx)).blocked).toContain('ConnectionLost');
    const rec = await memoryCtx.records.get<CaptureRecord>(captureRecordName(ID));
    expect((await stopAction.plan([ID], stopContext(undefined, rec))).blocked).toContain('No verified memory image');
    expect((await stopAction.plan([ID], stopContext('without-memory agent is gone', rec))).blocked).toBeUndefined();
  });

  it('SSM Success is not a captured image: a capture whose image S3 did not verify blocks the stop', async () => {
    instance();
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', StandardOutputContent: '' });
    const blocked = await stopAction.plan([ID], stopContext(undefined, { ...record, status: 'failed', reason: "not verified: S3's SHA-256 differs" }));
    expect(blocked.blocked).toBe(
      `No verified memory image of ${ID} (memory-i-0a1b2c3d4e5f60718-1: not verified: S3's SHA-256 differs), and stopping destroys what is in memory. Capture again (\`/ir memory ${ID}\`) and wait for its ✓, or go on without memory: \`/ir stop ${ID} without-memory\`.`,
    );
  });

  it('a capture recorded before images were verified counts as unverified, even though SSM says Success', async () => {
    instance();
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', StandardOutputContent: '' });
    const legacy = { ...record } as Partial<CaptureRecord>;
    delete legacy.status;
    const plan = await stopAction.plan([ID], stopContext(undefined, legacy as CaptureRecord));
    expect(plan.blocked).toContain(`No verified memory image of ${ID} (memory-i-0a1b2c3d4e5f60718-1: SSM command cmd-9 Success, captured before ir-bot verified images against S3's checksum)`);
  });

  it('waits for a running capture until its image is verified before stopping', async () => {
    instance();
    const ctx = stopContext();
    let polls = 0;
    ssm.on(GetCommandInvocationCommand).callsFake(async () => {
      // The memory request verifies the image while the stop waits.
      if (++polls === 3) ctx.records.values.set(captureRecordName(ID), { ...record, status: 'verified', image: { sha256: 'a'.repeat(64), bytes: 10, verifiedAt: '2026-12-01T07:01:00Z' } });
      return { Status: polls < 2 ? 'InProgress' : 'Success', StandardOutputContent: '' };
    });
    const plan = await stopAction.plan([ID], ctx);
    expect(plan.steps[0]).toBe('wait for memory capture');
    expect(plan.summary).toContain(`${ID}: first wait for its memory capture (memory-i-0a1b2c3d4e5f60718-1, SSM command cmd-9, InProgress) to be verified in S3`);
    let now = 'running';
    let stoppedBeforeVerified = false;
    ec2.on(DescribeInstancesCommand).callsFake(async () => ({ Reservations: [{ Instances: [{ InstanceId: ID, State: { Name: now } }] }] }));
    ec2.on(StopInstancesCommand).callsFake(async () => {
      stoppedBeforeVerified = (await ctx.records.get<CaptureRecord>(captureRecordName(ID)))?.status !== 'verified';
      now = 'stopped';
      return {};
    });
    const outcome = await stopAction.execute(plan, ctx);
    expect(outcome.ok).toBe(true);
    expect(stoppedBeforeVerified).toBe(false);
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
    expect((err as Error).message).toContain(`the memory capture of ${ID} (memory-i-0a1b2c3d4e5f60718-1: SSM command cmd-9 TimedOut, no image verified in S3) has no verified image, so nothing was stopped`);
    expect(ec2.commandCalls(StopInstancesCommand)).toHaveLength(0);
  });

  describe('a bulk stop (Stop all)', () => {
    const OTHER = 'i-0a1b2c3d4e5f60719';
    const states = new Map<string, string>();
    const verified = (id: string): CaptureRecord => ({ ...record, instanceId: id, status: 'verified', image: { sha256: SHA, bytes: 10, verifiedAt: '2026-12-01T07:01:00Z' } });

    /** Neither instance had a capture when the stop was planned. */
    function withoutCaptures() {
      const ctx = stopContext();
      ctx.records.values.delete(captureRecordName(ID));
      return ctx;
    }

    function twoRunning(ctx: ReturnType<typeof stopContext>) {
      states.set(ID, 'running').set(OTHER, 'running');
      ec2.on(DescribeInstancesCommand).callsFake(async (input: { InstanceIds?: string[] }) => ({ Reservations: [{ Instances: (input.InstanceIds ?? [ID, OTHER]).map((id) => ({ InstanceId: id, State: { Name: states.get(id) } })) }] }));
      ec2.on(DescribeInstanceAttributeCommand).resolves({ DisableApiStop: { Value: false } });
      const stoppedWhile: (string | undefined)[] = [];
      ec2.on(StopInstancesCommand).callsFake(async (input: { InstanceIds: string[] }) => {
        for (const id of input.InstanceIds) {
          stoppedWhile.push((await ctx.records.get<CaptureRecord>(captureRecordName(id)))?.status);
          states.set(id, 'stopped');
        }
        return {};
      });
      return stoppedWhile;
    }

    it('is refused as a whole when one instance\'s capture is unverified, naming that one', async () => {
      const ctx = stopContext(undefined, verified(ID));
      ctx.records.values.set(captureRecordName(OTHER), { ...record, instanceId: OTHER, requestId: 'memory-i-0a1b2c3d4e5f60719-1', status: 'failed', reason: 'capture Failed' });
      twoRunning(ctx);
      const plan = await stopAction.plan([ID, OTHER], ctx);
      expect(plan.blocked).toContain(`No verified memory image of ${OTHER} (memory-i-0a1b2c3d4e5f60719-1: capture Failed)`);
      expect(plan.blocked).not.toContain(`of ${ID}`);
      expect(ec2.commandCalls(StopInstancesCommand)).toHaveLength(0);
    });

    it('waits for a capture asked for after the stop was planned (while it awaited approval) before stopping anything', async () => {
      const ctx = withoutCaptures();
      const stoppedWhile = twoRunning(ctx);
      const plan = await stopAction.plan([ID, OTHER], ctx);
      expect(plan.steps).not.toContain('wait for memory capture');
      // Approval pending: someone captures OTHER's memory; its command is still running when the stop is approved.
      ctx.records.values.set(captureRecordName(OTHER), { ...record, instanceId: OTHER, requestId: 'memory-i-0a1b2c3d4e5f60719-1' });
      let polls = 0;
      ssm.on(GetCommandInvocationCommand).callsFake(async () => {
        if (++polls === 3) ctx.records.values.set(captureRecordName(OTHER), { ...verified(OTHER), requestId: 'memory-i-0a1b2c3d4e5f60719-1' });
        return { Status: 'InProgress', StandardOutputContent: '' };
      });
      const outcome = await stopAction.execute(plan, ctx);
      expect(outcome.ok).toBe(true);
      expect(polls).toBeGreaterThanOrEqual(3);
      expect(stoppedWhile).toEqual([undefined, 'verified']);
    });

    it('stops nothing when a capture asked for after the plan has already failed', async () => {
      const ctx = withoutCaptures();
      twoRunning(ctx);
      const plan = await stopAction.plan([ID, OTHER], ctx);
      ctx.records.values.set(captureRecordName(OTHER), { ...record, requestId: 'memory-i-0a1b2c3d4e5f60719-1', instanceId: OTHER, commandId: undefined, status: 'failed', reason: 'the capture request failed before any command was sent: AccessDenied' });
      const err = await stopAction.execute(plan, ctx).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StepFailure);
      expect((err as StepFailure).cause).toBeInstanceOf(FinalError);
      expect((err as Error).message).toContain(`No verified memory image of ${OTHER}`);
      expect((err as Error).message).toContain('Nothing was stopped.');
      expect(ec2.commandCalls(StopInstancesCommand)).toHaveLength(0);
    });
  });

  describe('terminate', () => {
    const PRINCIPAL = 'AKIAIOSFODNN7EXAMPLE';
    function launchedAndSnapshotted() {
      ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: ID, State: { Name: 'running' }, BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: 'vol-1' } }] }] }] });
      ec2.on(DescribeInstanceAttributeCommand).resolves({ DisableApiTermination: { Value: false } });
      trail.on(LookupEventsCommand).resolves({ Events: [{ EventName: 'RunInstances', CloudTrailEvent: JSON.stringify({ eventTime: '2026-11-30T02:10:00Z', userIdentity: { accessKeyId: PRINCIPAL }, responseElements: { instancesSet: { items: [{ instanceId: ID }] } } }) }] });
      ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [{ SnapshotId: 'snap-1', VolumeId: 'vol-1', State: 'completed', StartTime: new Date('2026-11-30T03:00:00Z'), Tags: [{ Key: 'ir:case', Value: 'case-7cc4f1c3' }, { Key: 'ir:instance', Value: ID }] }] });
    }
    const terminateContext = (rec?: CaptureRecord, reason?: string) => {
      const ctx = actionContext({ requestId: 'terminate-x-1', reason });
      if (rec) ctx.records.values.set(captureRecordName(ID), rec);
      return ctx;
    };

    it('does not list a memory image the capture never verified, and refuses until without-memory', async () => {
      launchedAndSnapshotted();
      ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', StandardOutputContent: '' });
      const plan = await terminateAction.plan([PRINCIPAL, ID], terminateContext(record));
      expect(plan.blocked).toContain(`No verified memory image of ${ID} (memory-i-0a1b2c3d4e5f60718-1: SSM command cmd-9 Success, no image verified in S3), and terminating destroys what is in memory`);
      expect(plan.blocked).not.toContain('s3://');
      const waived = await terminateAction.plan([PRINCIPAL, ID], terminateContext({ ...record, status: 'failed', reason: 'capture Failed' }, 'without-memory'));
      expect(waived.blocked).toBeUndefined();
      expect(waived.summary.join('\n')).not.toContain('memory image s3://');
      expect(waived.summary.join('\n')).toContain('going on anyway, as asked (without-memory): memory is lost');
    });

    it('terminates nothing when a capture asked for after the plan is still running at the moment of terminating', async () => {
      launchedAndSnapshotted();
      const ctx = terminateContext();
      const plan = await terminateAction.plan([PRINCIPAL, ID], ctx);
      expect(plan.blocked).toBeUndefined();
      ctx.records.values.set(captureRecordName(ID), record);
      ssm.on(GetCommandInvocationCommand).resolves({ Status: 'InProgress', StandardOutputContent: '' });
      // Had it been called, the run ends here instead of waiting for an instance the mock never terminates.
      ec2.on(TerminateInstancesCommand).rejects(new Error('TerminateInstances was called'));
      const err = await terminateAction.execute(plan, ctx).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StepFailure);
      expect((err as StepFailure).cause).toBeInstanceOf(FinalError);
      expect((err as Error).message).toContain(`No verified memory image of ${ID} (memory-i-0a1b2c3d4e5f60718-1: SSM command cmd-9 InProgress, no image verified in S3)`);
      expect((err as Error).message).toContain('Nothing was terminated.');
      expect(ec2.commandCalls(TerminateInstancesCommand)).toHaveLength(0);
    });

    it('lists a verified image with its S3 version and hash as evidence kept', async () => {
      launchedAndSnapshotted();
      const plan = await terminateAction.plan([PRINCIPAL, ID], terminateContext({ ...record, status: 'verified', image: { versionId: 'v-3Lg1', sha256: SHA, bytes: 10, verifiedAt: '2026-12-01T07:01:00Z' } }));
      expect(plan.summary).toContain(`evidence kept for ${ID}: memory image s3://ir-evidence/${KEY} (version v-3Lg1), sha256 ${SHA}, verified by S3's checksum (request memory-i-0a1b2c3d4e5f60718-1)`);
    });
  });
});
