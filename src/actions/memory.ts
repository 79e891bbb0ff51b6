import { DescribeInstanceTypesCommand, DescribeVpcEndpointsCommand, type _InstanceType } from '@aws-sdk/client-ec2';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, PutObjectTaggingCommand } from '@aws-sdk/client-s3';
import { DescribeInstanceInformationCommand, GetCommandInvocationCommand, ListCommandsCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AwsCallError } from '../aws/errors';
import type { Responder } from '../aws/responder';
import { isolationRecordName } from './isolate';
import { InstanceUnavailable, findInstance } from './instance';
import type { ActionOutcome, PlanView } from './results';
import { FinalError, NotYet, blockedPlan, fingerprint, runSteps, type ActionContext, type ResponseAction } from './types';

/**
 * Memory capture over SSM Run Command: AVML on Linux, winpmem on Windows. The tool comes from S3
 * and the image goes to S3 through presigned URLs, so the (compromised) instance needs neither
 * internet access nor any S3 permission of its own, and can write only that one object.
 */

export type Platform = 'Linux' | 'Windows';

interface CaptureTarget {
  instanceId: string;
  platform: Platform;
  platformName?: string;
  memoryMiB?: number;
  vpcId?: string;
  key: string;
}

interface MemoryPlanData {
  targets: CaptureTarget[];
  skipped: string[];
  bucket: string;
}

/** What is kept per instance once its command is sent: a re-run follows it, a stop waits on it. */
export interface CaptureRecord {
  requestId: string;
  instanceId: string;
  commandId: string;
  bucket: string;
  key: string;
  account: string;
  region: string;
  startedAt: string;
}

/** The latest capture of an instance (its history is kept by retire()). */
export const captureRecordName = (instanceId: string) => `memory:${instanceId}`;
const commandRecordName = (requestId: string, instanceId: string) => `memory-command:${requestId}:${instanceId}`;

/** A single presigned PUT can carry at most 5 GiB. */
const PUT_LIMIT_BYTES = 5 * 1024 ** 3;
const RUNNING = new Set(['Pending', 'InProgress', 'Delayed']);
const SSM_ENDPOINTS = ['ssm', 'ssmmessages', 'ec2messages'];

function s3Parts(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri)!;
  return { bucket: m[1], key: m[2] };
}

export function imageKey(prefix: string, caseId: string, instanceId: string, requestId: string, platform: Platform): string {
  const safeCase = caseId.replace(/[^\w.-]/g, '_').slice(0, 200);
  return `${prefix}${safeCase}/${instanceId}/${requestId}.${platform === 'Linux' ? 'lime' : 'raw'}`;
}

function gib(mib: number | undefined): string {
  return mib === undefined ? '? GiB' : `${(mib / 1024).toFixed(mib < 10 * 1024 ? 1 : 0)} GiB`;
}

function minutes(mib: number | undefined, rate: number): string {
  if (mib === undefined) return 'unknown duration';
  const m = Math.max(1, Math.ceil(mib / rate / 60));
  return `~${m} min`;
}

async function memoryOfTypes(aws: Responder, types: string[]): Promise<Map<string, number>> {
  if (types.length === 0) return new Map();
  const out = await aws.send(aws.clients.ec2, new DescribeInstanceTypesCommand({ InstanceTypes: types as _InstanceType[] }));
  return new Map((out.InstanceTypes ?? []).map((t) => [t.InstanceType as string, t.MemoryInfo?.SizeInMiB ?? 0]));
}

async function agentsOf(aws: Responder, ids: string[]): Promise<Map<string, { ping?: string; platform?: string; name?: string }>> {
  const out = await aws.send(aws.clients.ssm, new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: ids }] }));
  return new Map((out.InstanceInformationList ?? []).map((i) => [i.InstanceId!, { ping: i.PingStatus, platform: i.PlatformType, name: [i.PlatformName, i.PlatformVersion].filter(Boolean).join(' ') }]));
}

/** Interface endpoints the agent needs when the instance has no other way out (e.g. once isolated). */
async function endpointsOf(aws: Responder, vpcId: string): Promise<{ ssm: boolean; s3: boolean }> {
  const out = await aws.send(aws.clients.ec2, new DescribeVpcEndpointsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }));
  const names = (out.VpcEndpoints ?? []).filter((e) => String(e.State).toLowerCase() === 'available').map((e) => e.ServiceName?.split('.').pop() ?? '');
  return { ssm: SSM_ENDPOINTS.every((n) => names.includes(n)), s3: names.includes('s3') };
}

async function plan(instanceIds: string[], ctx: ActionContext): Promise<PlanView> {
  const { aws, memory } = ctx;
  if (!memory.evidenceBucket) {
    return blockedPlan('Memory capture is not configured: set `memory.evidenceBucket` and `memory.tools` (linux: AVML, windows: winpmem, as s3:// URLs) in the config. Nothing was run.');
  }
  const skipped: string[] = [];
  const found = await Promise.all(
    instanceIds.map(async (id) => {
      try {
        return await findInstance(aws, id);
      } catch (err) {
        if (!(err instanceof InstanceUnavailable)) throw err;
        skipped.push(err.message);
        return undefined;
      }
    }),
  );
  const instances = found.filter((i) => i !== undefined);
  const [agents, sizes] = await Promise.all([
    instances.length ? agentsOf(aws, instances.map((i) => i.InstanceId!)) : Promise.resolve(new Map()),
    memoryOfTypes(aws, [...new Set(instances.map((i) => i.InstanceType).filter((t): t is _InstanceType => !!t))]),
  ]);
  const targets: CaptureTarget[] = [];
  for (const i of instances) {
    const id = i.InstanceId!;
    const state = i.State?.Name ?? 'unknown';
    const agent = agents.get(id);
    if (state !== 'running') {
      skipped.push(`${id} is ${state}: memory exists only while it runs${state === 'stopped' ? ' (what was in memory is gone)' : ''}`);
    } else if (!agent) {
      skipped.push(`${id} has no SSM agent registered: the agent is not installed, the instance profile lacks AmazonSSMManagedInstanceCore, or it cannot reach the SSM endpoints. Capture memory by hand or snapshot only.`);
    } else if (agent.ping !== 'Online') {
      skipped.push(`${id}: its SSM agent is ${agent.ping ?? 'not reporting'}, so no command can reach it`);
    } else if (agent.platform !== 'Linux' && agent.platform !== 'Windows') {
      skipped.push(`${id}: platform ${agent.platform ?? 'unknown'}; capture is supported on Linux (AVML) and Windows (winpmem) only`);
    } else if (!memory.tools[agent.platform === 'Linux' ? 'linux' : 'windows']) {
      skipped.push(`${id} runs ${agent.platform}, but \`memory.tools.${agent.platform.toLowerCase()}\` is not configured`);
    } else {
      targets.push({
        instanceId: id,
        platform: agent.platform,
        platformName: agent.name || undefined,
        memoryMiB: i.InstanceType ? sizes.get(i.InstanceType) : undefined,
        vpcId: i.VpcId,
        key: imageKey(memory.prefix, ctx.caseId, id, ctx.requestId, agent.platform),
      });
    }
  }
  if (targets.length === 0) return blockedPlan(`Memory cannot be captured: ${skipped.join('; ')}`);

  const warnings = [...skipped];
  for (const t of targets) {
    const isolated = await ctx.records.get(isolationRecordName(t.instanceId));
    const ends = t.vpcId ? await endpointsOf(aws, t.vpcId) : { ssm: false, s3: false };
    if (isolated && !(ends.ssm && ends.s3)) {
      warnings.push(
        `${t.instanceId} is isolated and its VPC lacks ${[!ends.ssm && 'the ssm/ssmmessages/ec2messages interface endpoints', !ends.s3 && 'an S3 endpoint'].filter(Boolean).join(' and ')}: the agent may not reach SSM or S3, and the capture would fail. Release, capture, isolate again, or add the endpoints.`,
      );
    } else if (!isolated && !(ends.ssm && ends.s3)) {
      warnings.push(`Capture ${t.instanceId} before isolating it: the quarantine group cuts the agent's path to SSM and S3 (its VPC has no ${ends.ssm ? 'S3' : 'SSM'} endpoint).`);
    }
    if (t.memoryMiB !== undefined && t.memoryMiB * 1024 ** 2 > PUT_LIMIT_BYTES) {
      warnings.push(
        `${t.instanceId} has ${gib(t.memoryMiB)} of memory; one upload carries at most 5 GiB.${t.platform === 'Linux' ? ' AVML compresses the image (snappy), which usually fits;' : ''} if the image is larger the upload fails and the image stays on the instance's disk.`,
      );
    }
  }
  warnings.push('The capture writes the image to the instance\'s temporary directory before uploading it (and deletes it after): it overwrites free disk space, so snapshot first if deleted files on disk matter.');
  const rate = memory.estimatedMiBPerSecond;
  const summary = targets.map((t) => {
    const tool = t.platform === 'Linux' ? `AVML (${memory.tools.linux}) via AWS-RunShellScript` : `winpmem (${memory.tools.windows}) via AWS-RunPowerShellScript`;
    return `${t.instanceId} (${t.platformName ?? t.platform}, SSM agent online): ${tool} → s3://${memory.evidenceBucket}/${t.key}; ${gib(t.memoryMiB)} of memory, ${minutes(t.memoryMiB, rate)}`;
  });
  summary.push(`SHA-256 and size recorded; image tagged with the case (${ctx.caseId}), instance, request and requester`);
  const data: MemoryPlanData = { targets, skipped, bucket: memory.evidenceBucket };
  return {
    summary,
    warnings,
    steps: ['send capture commands', 'wait for the capture', 'verify the images'],
    fingerprint: fingerprint(targets.map((t) => [t.instanceId, t.platform])),
    data,
  };
}

function shellScript(toolUrl: string, putUrl: string): string[] {
  // Presigned URLs carry no single quote, so single-quoting them is safe.
  return [
    'set -eu',
    'W=$(mktemp -d /tmp/ir-memory.XXXXXX)',
    "trap 'rm -rf \"$W\"' EXIT",
    `curl -fsS -o "$W/avml" '${toolUrl}'`,
    'chmod 700 "$W/avml"',
    'echo "IRBOT stage=capture"',
    '"$W/avml" --compress "$W/image.lime"',
    'SIZE=$(stat -c %s "$W/image.lime")',
    'SHA=$(sha256sum "$W/image.lime" | cut -d" " -f1)',
    'echo "IRBOT stage=upload bytes=$SIZE"',
    `curl -fsS -X PUT -T "$W/image.lime" '${putUrl}'`,
    'echo "IRBOT done sha256=$SHA bytes=$SIZE"',
  ];
}

function powershellScript(toolUrl: string, putUrl: string): string[] {
  return [
    "$ErrorActionPreference = 'Stop'",
    "$w = Join-Path $env:TEMP ('ir-memory-' + [guid]::NewGuid())",
    'New-Item -ItemType Directory -Path $w | Out-Null',
    'try {',
    `  Invoke-WebRequest -UseBasicParsing -Uri '${toolUrl}' -OutFile "$w\\winpmem.exe"`,
    "  Write-Output 'IRBOT stage=capture'",
    '  & "$w\\winpmem.exe" "$w\\image.raw"',
    '  if ($LASTEXITCODE -ne 0) { throw "winpmem exited with $LASTEXITCODE" }',
    '  $size = (Get-Item "$w\\image.raw").Length',
    '  $sha = (Get-FileHash -Algorithm SHA256 "$w\\image.raw").Hash.ToLower()',
    '  Write-Output "IRBOT stage=upload bytes=$size"',
    `  Invoke-WebRequest -UseBasicParsing -Method Put -InFile "$w\\image.raw" -Uri '${putUrl}' | Out-Null`,
    '  Write-Output "IRBOT done sha256=$sha bytes=$size"',
    '} finally { Remove-Item -Recurse -Force $w }',
  ];
}

export function metadataFor(ctx: Pick<ActionContext, 'caseId' | 'requestId' | 'requestedBy'>, instanceId: string): Record<string, string> {
  return { 'ir-case': ctx.caseId.slice(0, 200), 'ir-instance': instanceId, 'ir-request': ctx.requestId, 'ir-requested-by': ctx.requestedBy };
}

/** The command for this request and instance: the stored one, one SSM already has, or a new one. */
async function commandFor(ctx: ActionContext, t: CaptureTarget, bucket: string): Promise<CaptureRecord> {
  const { aws, memory } = ctx;
  const stored = await ctx.records.get<CaptureRecord>(commandRecordName(ctx.requestId, t.instanceId));
  if (stored) return stored;
  const comment = `ir-bot memory ${ctx.requestId}`.slice(0, 100);
  // A crash between SendCommand and storing its id must not start a second capture.
  const listed = await aws.send(aws.clients.ssm, new ListCommandsCommand({ InstanceId: t.instanceId, MaxResults: 50 }));
  let commandId = listed.Commands?.find((c) => c.Comment === comment)?.CommandId;
  if (!commandId) {
    const timeoutSeconds = memory.timeoutMinutes * 60;
    const expiresIn = Math.min(timeoutSeconds + 600, 12 * 3600);
    const tool = s3Parts(t.platform === 'Linux' ? memory.tools.linux! : memory.tools.windows!);
    const toolUrl = await getSignedUrl(aws.clients.s3, new GetObjectCommand({ Bucket: tool.bucket, Key: tool.key }), { expiresIn });
    const putUrl = await getSignedUrl(aws.clients.s3, new PutObjectCommand({ Bucket: bucket, Key: t.key, Metadata: metadataFor(ctx, t.instanceId) }), { expiresIn });
    const linux = t.platform === 'Linux';
    const out = await aws.send(
      aws.clients.ssm,
      new SendCommandCommand({
        InstanceIds: [t.instanceId],
        DocumentName: linux ? 'AWS-RunShellScript' : 'AWS-RunPowerShellScript',
        Comment: comment,
        TimeoutSeconds: 600,
        Parameters: { commands: linux ? shellScript(toolUrl, putUrl) : powershellScript(toolUrl, putUrl), executionTimeout: [String(timeoutSeconds)] },
      }),
    );
    commandId = out.Command?.CommandId;
    if (!commandId) throw new Error(`SSM accepted the command for ${t.instanceId} but returned no command id`);
  }
  const record: CaptureRecord = { requestId: ctx.requestId, instanceId: t.instanceId, commandId, bucket, key: t.key, account: aws.account, region: aws.region, startedAt: ctx.now().toISOString() };
  await ctx.records.putIfAbsent(commandRecordName(ctx.requestId, t.instanceId), record);
  // The instance's latest capture is the one a stop waits on; earlier ones stay in the history.
  const latest = await ctx.records.get<CaptureRecord>(captureRecordName(t.instanceId));
  if (latest?.requestId !== ctx.requestId) await ctx.records.replace(captureRecordName(t.instanceId), record, Date.now());
  return record;
}

export interface CommandState {
  status: string;
  output: string;
  error: string;
}

export async function commandState(aws: Responder, commandId: string, instanceId: string): Promise<CommandState> {
  try {
    const out = await aws.send(aws.clients.ssm, new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
    return { status: out.Status ?? 'Pending', output: out.StandardOutputContent ?? '', error: out.StandardErrorContent ?? out.StatusDetails ?? '' };
  } catch (err) {
    // Right after SendCommand the invocation may not be visible yet.
    if (err instanceof AwsCallError && err.code === 'InvocationDoesNotExist') return { status: 'Pending', output: '', error: '' };
    throw err;
  }
}

export function isRunning(status: string): boolean {
  return RUNNING.has(status);
}

/** The last progress marker the script printed, for the thread. */
function stageOf(output: string): string | undefined {
  const marks = [...output.matchAll(/^IRBOT stage=(\w+)(?: bytes=(\d+))?/gm)];
  const last = marks.at(-1);
  if (!last) return undefined;
  return last[1] === 'upload' ? `uploading ${(Number(last[2]) / 1024 ** 3).toFixed(2)} GiB` : 'capturing';
}

function resultOf(output: string): { sha256: string; bytes: number } | undefined {
  const m = [...output.matchAll(/^IRBOT done sha256=([0-9a-f]{64}) bytes=(\d+)/gm)].at(-1);
  return m ? { sha256: m[1], bytes: Number(m[2]) } : undefined;
}

interface Captured {
  target: CaptureTarget;
  commandId: string;
  startedAt: string;
  state?: CommandState;
}

/** Status checks in one job run before a longer wait goes back to Redis (NotYet) instead of holding a worker. */
export const POLLS_PER_RUN = 6;

async function waitAll(ctx: ActionContext, step: number, total: number, items: Captured[]): Promise<void> {
  const started = Math.min(...items.map((c) => Date.parse(c.startedAt)));
  const deadline = started + (ctx.memory.timeoutMinutes + 10) * 60_000;
  let wait = ctx.memory.pollIntervalMs;
  for (let poll = 1; ; poll++) {
    await Promise.all(items.filter((c) => !c.state || isRunning(c.state.status)).map(async (c) => (c.state = await commandState(ctx.aws, c.commandId, c.target.instanceId))));
    const running = items.filter((c) => isRunning(c.state!.status));
    if (running.length === 0) return;
    const label = items.map((c) => `${c.target.instanceId} ${c.state!.status}${isRunning(c.state!.status) && stageOf(c.state!.output) ? ` (${stageOf(c.state!.output)})` : ''}`).join(', ');
    await ctx.progress(step, total, label);
    if (ctx.now().getTime() > deadline) throw new Error(`${running.map((c) => c.target.instanceId).join(', ')} still capturing after ${ctx.memory.timeoutMinutes} min`);
    if (poll >= POLLS_PER_RUN) throw new NotYet(ctx.memory.maxPollIntervalMs, `memory capture running: ${label}`);
    await ctx.sleep(wait);
    wait = Math.min(wait * 2, ctx.memory.maxPollIntervalMs);
  }
}

async function verifyImage(ctx: ActionContext, bucket: string, c: Captured): Promise<{ ok: boolean; line: string }> {
  const { aws } = ctx;
  const id = c.target.instanceId;
  const uri = `s3://${bucket}/${c.target.key}`;
  const s = c.state!;
  if (s.status !== 'Success') {
    const why = s.error.trim().split('\n').slice(-2).join(' ').slice(0, 300) || 'no error output';
    return { ok: false, line: `${id}: capture ${s.status} (command ${c.commandId}): ${why} ✗` };
  }
  const reported = resultOf(s.output);
  if (!reported) return { ok: false, line: `${id}: the command succeeded but printed no hash and size (command ${c.commandId}) ✗` };
  let head;
  try {
    head = await aws.send(aws.clients.s3, new HeadObjectCommand({ Bucket: bucket, Key: c.target.key }));
  } catch (err) {
    if (err instanceof AwsCallError && err.kind === 'not-found') return { ok: false, line: `${id}: no image at ${uri} although the command succeeded ✗` };
    throw err;
  }
  const problems: string[] = [];
  if (head.ContentLength !== reported.bytes) problems.push(`S3 holds ${head.ContentLength} bytes, the instance wrote ${reported.bytes}`);
  if (head.Metadata?.['ir-instance'] !== id || head.Metadata?.['ir-case'] !== metadataFor(ctx, id)['ir-case']) problems.push('the object does not carry this case and instance in its metadata');
  await aws.send(
    aws.clients.s3,
    new PutObjectTaggingCommand({
      Bucket: bucket,
      Key: c.target.key,
      Tagging: {
        TagSet: [
          { Key: 'ir:case', Value: ctx.caseId.slice(0, 256) },
          { Key: 'ir:instance', Value: id },
          { Key: 'ir:request', Value: ctx.requestId },
          { Key: 'ir:requested-by', Value: ctx.requestedBy },
          { Key: 'ir:sha256', Value: reported.sha256 },
        ],
      },
    }),
  );
  const size = `${(reported.bytes / 1024 ** 3).toFixed(2)} GiB (${reported.bytes} bytes)`;
  if (problems.length) return { ok: false, line: `${id}: ${uri}, ${size}, sha256 ${reported.sha256}: ${problems.join('; ')} ✗` };
  return { ok: true, line: `${id}: ${uri}, ${size}, sha256 ${reported.sha256} ✓` };
}

async function execute(p: PlanView, ctx: ActionContext): Promise<ActionOutcome> {
  const data = p.data as MemoryPlanData;
  const items: Captured[] = [];
  const lines: string[] = [];
  let ok = true;
  await runSteps(ctx, [
    {
      label: 'send capture commands',
      run: async () => {
        for (const t of data.targets) {
          const rec = await commandFor(ctx, t, data.bucket);
          items.push({ target: t, commandId: rec.commandId, startedAt: rec.startedAt });
        }
        return `capture command(s) sent: ${items.map((c) => `${c.target.instanceId} ${c.commandId}`).join(', ')}`;
      },
    },
    {
      label: 'wait for the capture',
      run: async () => {
        await waitAll(ctx, 2, 3, items);
        return `capture finished: ${items.map((c) => `${c.target.instanceId} ${c.state!.status}`).join(', ')}`;
      },
    },
    {
      label: 'verify the images',
      run: async () => {
        for (const c of items) {
          const v = await verifyImage(ctx, data.bucket, c);
          ok &&= v.ok;
          lines.push(v.line);
        }
        return undefined;
      },
    },
  ]);
  if (items.every((c) => c.state!.status !== 'Success')) {
    // Nothing was captured: the request fails, and a stop waiting on it stays blocked.
    throw new FinalError(`memory capture failed: ${lines.join('; ')}`);
  }
  return {
    ok,
    lines,
    notes: [
      'SHA-256 computed on the instance before upload and stored as the object tag ir:sha256; S3 confirmed the size and the case metadata. Hash the downloaded copy to check it. Linux images are AVML-compressed LiME (avml-convert turns them into plain LiME for Volatility).',
      ...data.skipped.map((s) => `Skipped: ${s}`),
    ],
  };
}

export const memoryAction: ResponseAction = { plan, execute };

/** For a stop: has this instance's latest capture (in this account and region) ended, and how? */
export async function latestCapture(ctx: ActionContext, instanceId: string): Promise<{ record: CaptureRecord; state: CommandState } | undefined> {
  const record = await ctx.records.get<CaptureRecord>(captureRecordName(instanceId));
  if (!record || record.account !== ctx.aws.account || record.region !== ctx.aws.region) return undefined;
  return { record, state: await commandState(ctx.aws, record.commandId, instanceId) };
}
