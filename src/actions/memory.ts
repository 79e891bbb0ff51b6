import { DescribeInstanceTypesCommand, DescribeVpcEndpointsCommand, type _InstanceType } from '@aws-sdk/client-ec2';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, PutObjectTaggingCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeInstanceInformationCommand, GetCommandInvocationCommand, ListCommandsCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AwsCallError } from '../aws/errors';
import { ADVISORY_TIMEOUT_MS, advisory, couldNotCheck } from './advisory';
import type { Responder } from '../aws/responder';
import { isolationRecordName } from './isolate';
import { InstanceUnavailable, findInstance } from './instance';
import type { ActionOutcome, PlanView } from './results';
import { digestOutcome, digestPerInstance } from './plan-digest';
import { FinalError, NotYet, blockedPlan, fingerprint, runSteps, type ActionContext, type ResponseAction } from './types';

/**
 * Memory capture over SSM Run Command: AVML on Linux, winpmem on Windows, always through our own
 * SSM document (deploy/ssm/memory-capture.json: a fixed script that takes URLs and sizes as
 * parameters, never commands). Two commands per instance: the first captures to a scratch
 * directory on disk and prints the image's SHA-256; the second uploads it through a presigned PUT
 * that S3 accepts only with that SHA-256 and only if the key is still empty. The instance needs
 * neither internet access nor any S3 permission of its own, and can write only that one object
 * with only that content. An image counts as captured once S3's own checksum equals the hash.
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
  /** Region of the evidence bucket: the presigned URLs are signed for it. */
  bucketRegion: string;
}

/**
 * Where an instance's latest capture stands. `requested` is written before the plan calls AWS, so
 * a request that fails before SendCommand (AccessDenied, an agent lookup that errors, a crash)
 * still leaves a capture that is not verified, and a stop or terminate will not take it for done.
 */
export type CaptureStatus = 'requested' | 'sent' | 'verified' | 'failed';

/** The instance's latest capture: what a stop waits on and a terminate lists as evidence. */
export interface CaptureRecord {
  requestId: string;
  instanceId: string;
  /** Absent on records written before statuses existed: those had sent their command. */
  status?: CaptureStatus;
  commandId?: string;
  bucket?: string;
  key?: string;
  account: string;
  region: string;
  startedAt: string;
  /** Why it failed, for the stop's and terminate's refusal. */
  reason?: string;
  /** What S3 holds, from HeadObject, once S3's SHA-256 equals the one the instance reported. */
  image?: { versionId?: string; sha256: string; bytes: number; verifiedAt: string };
}

export function captureStatus(r: CaptureRecord): CaptureStatus {
  return r.status ?? (r.commandId ? 'sent' : 'requested');
}

/** The latest capture of an instance (its history is kept by replace()). */
export const captureRecordName = (instanceId: string) => `memory:${instanceId}`;
const commandRecordName = (requestId: string, instanceId: string, phase: Phase) => `memory-${phase === 'capture' ? 'command' : 'upload'}:${requestId}:${instanceId}`;

type Phase = 'capture' | 'upload';

/** A single PUT can carry at most 5 GiB. */
const PUT_LIMIT_BYTES = 5 * 1024 ** 3;
const RUNNING = new Set(['Pending', 'InProgress', 'Delayed']);
const SSM_ENDPOINTS = ['ssm', 'ssmmessages', 'ec2messages'];
/** How long SSM may take to deliver a command to the agent (SendCommand's TimeoutSeconds). */
const DELIVERY_SECONDS = 600;
/** Head room on the scratch disk beyond the image itself. */
const SPARE_MIB = 256;

function s3Parts(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri)!;
  return { bucket: m[1], key: m[2] };
}

/** Records the capture's new state, unless it would step back (a verified image stays verified). */
async function noteCapture(ctx: ActionContext, instanceId: string, change: Partial<CaptureRecord> & { status: CaptureStatus }): Promise<void> {
  const name = captureRecordName(instanceId);
  const latest = await ctx.records.get<CaptureRecord>(name);
  const mine = latest?.requestId === ctx.requestId ? latest : undefined;
  if (mine) {
    const was = captureStatus(mine);
    if (was === 'verified' || (change.status === 'requested' && was === 'sent')) return;
  } else if (latest && change.status === 'failed' && captureStatus(latest) === 'verified') {
    // An older request failing late does not hide the image a newer one verified.
    return;
  }
  const base: CaptureRecord = mine ?? { requestId: ctx.requestId, instanceId, account: ctx.aws.account, region: ctx.aws.region, startedAt: ctx.now().toISOString() };
  const next: CaptureRecord = { ...base, ...change };
  if (change.status !== 'failed') delete next.reason;
  if (mine && JSON.stringify(next) === JSON.stringify(mine)) return;
  await ctx.records.replace(name, next, ctx.now().getTime());
}

/** Every instance of this request not yet verified becomes `failed`, with the reason. */
async function noteFailed(ctx: ActionContext, instanceIds: string[], reason: string): Promise<void> {
  for (const id of instanceIds) await noteCapture(ctx, id, { status: 'failed', reason: reason.slice(0, 500) });
}

/** S3 clients in the evidence bucket's region, with the responder's credentials. */
const regionalS3 = new WeakMap<S3Client, Map<string, S3Client>>();
function s3In(aws: Responder, region: string): S3Client {
  const own = aws.clients.s3;
  if (region === aws.region) return own;
  let byRegion = regionalS3.get(own);
  if (!byRegion) regionalS3.set(own, (byRegion = new Map()));
  let client = byRegion.get(region);
  if (!client) byRegion.set(region, (client = new S3Client({ region, credentials: own.config.credentials, maxAttempts: 3 })));
  return client;
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

function endpointWarning(instanceId: string, isolated: boolean, ends: { ssm: boolean; s3: boolean }): string | undefined {
  if (ends.ssm && ends.s3) return undefined;
  if (!isolated) return `Capture ${instanceId} before isolating it: the quarantine group cuts the agent's path to SSM and S3 (its VPC has no ${ends.ssm ? 'S3' : 'SSM'} endpoint).`;
  const lacks = [!ends.ssm && 'the ssm/ssmmessages/ec2messages interface endpoints', !ends.s3 && 'an S3 endpoint'].filter(Boolean).join(' and ');
  return `${instanceId} is isolated and its VPC lacks ${lacks}: the agent may not reach SSM or S3, and the capture would fail. Release, capture, isolate again, or add the endpoints.`;
}

function endpointsUnchecked(why: string, u: { isolated: string[]; free: string[] }): string {
  const all = [...u.isolated, ...u.free];
  return [
    `${couldNotCheck(`whether the VPC of ${all.join(', ')} has the SSM and S3 endpoints the agent needs once isolated`, why)}.`,
    ...(u.isolated.length ? [`${u.isolated.join(', ')} ${u.isolated.length > 1 ? 'are' : 'is'} isolated: without them the agent cannot reach SSM or S3 and the capture fails.`] : []),
    ...(u.free.length ? [`Capture ${u.free.join(', ')} before isolating ${u.free.length > 1 ? 'them' : 'it'}.`] : []),
  ].join(' ');
}

async function plan(instanceIds: string[], ctx: ActionContext): Promise<PlanView> {
  // On record before any AWS call: a plan that throws leaves a capture that is not verified.
  for (const id of instanceIds) await noteCapture(ctx, id, { status: 'requested' });
  let p: PlanView;
  try {
    p = await planCapture(instanceIds, ctx);
  } catch (err) {
    await noteFailed(ctx, instanceIds, `the capture request failed before any command was sent: ${(err as Error).message}`);
    throw err;
  }
  if (p.blocked) await noteFailed(ctx, instanceIds, p.blocked);
  else {
    const planned = new Set((p.data as MemoryPlanData).targets.map((t) => t.instanceId));
    const skipped = (p.data as MemoryPlanData).skipped;
    for (const id of instanceIds.filter((i) => !planned.has(i))) await noteFailed(ctx, [id], skipped.find((s) => s.includes(id)) ?? 'not captured');
  }
  return p;
}

async function planCapture(instanceIds: string[], ctx: ActionContext): Promise<PlanView> {
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
  // Advisory, started beside the agents' read the plan needs: an endpoint missing or a memory size
  // unknown is a warning, so a denied or slow read of either never holds up the plan.
  const endpoints = new Map([...new Set(instances.map((i) => i.VpcId).filter((v): v is string => !!v))].map((v) => [v, advisory(ADVISORY_TIMEOUT_MS, () => endpointsOf(aws, v))]));
  const types = [...new Set(instances.map((i) => i.InstanceType).filter((t): t is _InstanceType => !!t))];
  const [agents, sizes] = await Promise.all([
    instances.length ? agentsOf(aws, instances.map((i) => i.InstanceId!)) : Promise.resolve(new Map()),
    advisory(ADVISORY_TIMEOUT_MS, () => memoryOfTypes(aws, types)),
  ]);
  const targets: CaptureTarget[] = [];
  for (const i of instances) {
    const id = i.InstanceId!;
    const state = i.State?.Name ?? 'unknown';
    const agent = agents.get(id);
    const memoryMiB = i.InstanceType && sizes.ok ? sizes.value.get(i.InstanceType) : undefined;
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
    } else if (agent.platform === 'Windows' && (memoryMiB === undefined || memoryMiB * 1024 ** 2 > PUT_LIMIT_BYTES)) {
      // winpmem writes a raw image as large as memory; one PUT carries at most 5 GiB.
      skipped.push(
        memoryMiB === undefined
          ? `${id}: its memory size is unknown${sizes.ok ? '' : ` (${couldNotCheck(`instance type ${i.InstanceType}`, sizes.why)})`}, and a Windows image (raw, as large as memory) must fit one 5 GiB upload: not captured`
          : `${id} has ${gib(memoryMiB)} of memory: its raw Windows image would exceed the 5 GiB one upload can carry, so it is not captured. Capture it by hand (winpmem to an attached volume).`,
      );
    } else {
      targets.push({ instanceId: id, platform: agent.platform, platformName: agent.name || undefined, memoryMiB, vpcId: i.VpcId, key: imageKey(memory.prefix, ctx.caseId, id, ctx.requestId, agent.platform) });
    }
  }
  if (targets.length === 0) return blockedPlan(`Memory cannot be captured: ${skipped.join('; ')}`);

  const warnings = [...skipped];
  if (!sizes.ok && targets.some((t) => t.platform === 'Linux')) warnings.push(`${couldNotCheck(`the memory size of ${types.join(', ')}`, sizes.why)}: size and duration are unknown.`);
  /** Instances whose VPC endpoints could not be read, by reason: each reason is named once. */
  const unchecked = new Map<string, { isolated: string[]; free: string[] }>();
  for (const t of targets) {
    const isolated = await ctx.records.get(isolationRecordName(t.instanceId));
    const checked = t.vpcId ? await endpoints.get(t.vpcId)! : ({ ok: true, value: { ssm: false, s3: false } } as const);
    if (!checked.ok) {
      const u = unchecked.get(checked.why) ?? unchecked.set(checked.why, { isolated: [], free: [] }).get(checked.why)!;
      (isolated ? u.isolated : u.free).push(t.instanceId);
    } else {
      const w = endpointWarning(t.instanceId, !!isolated, checked.value);
      if (w) warnings.push(w);
    }
    if (t.platform === 'Linux' && t.memoryMiB !== undefined && t.memoryMiB * 1024 ** 2 > PUT_LIMIT_BYTES) {
      warnings.push(`${t.instanceId} has ${gib(t.memoryMiB)} of memory; one upload carries at most 5 GiB. AVML compresses the image (snappy), which usually fits; if it does not, nothing is uploaded and the image stays in ${memory.scratchDir.linux} on the instance.`);
    }
  }
  for (const [why, u] of unchecked) warnings.push(endpointsUnchecked(why, u));
  warnings.push(`The capture writes the image to ${scratchDirs(memory, targets)} on the instance's disk before uploading it (and deletes it after): it overwrites free disk space, so snapshot first if deleted files on disk matter.`);
  const rate = memory.estimatedMiBPerSecond;
  const bucketRegion = memory.evidenceRegion ?? aws.region;
  const how = (t: CaptureTarget, key: string) => {
    const tool = t.platform === 'Linux' ? `AVML (${memory.tools.linux})` : `winpmem (${memory.tools.windows})`;
    return `${tool} via SSM document ${memory.ssmDocument} → s3://${memory.evidenceBucket}/${key}; ${gib(t.memoryMiB)} of memory, ${minutes(t.memoryMiB, rate)}`;
  };
  const host = (t: CaptureTarget) => `${t.platformName ?? t.platform}, SSM agent online`;
  // Many instances share a line per platform and size; every image's own key is in the plan file.
  const { summary, detail } = digestPerInstance(
    targets.map((t) => ({ id: t.instanceId, same: `${host(t)}: ${how(t, `${t.key.slice(0, t.key.indexOf(`/${t.instanceId}/`) + 1)}<instance>/…`)}`, full: `${t.instanceId} (${host(t)}): ${how(t, t.key)}` })),
    ctx,
    'Capture memory',
    {
      then: [
        `The upload is accepted only with the SHA-256 the instance reports and only to an empty key (signed for ${bucketRegion}${memory.evidenceRegion ? '' : ', as `memory.evidenceRegion` is not set'}); verified when S3's checksum equals it; image tagged with the case (${ctx.caseId}), instance, request and requester`,
      ],
    },
  );
  const data: MemoryPlanData = { targets, skipped, bucket: memory.evidenceBucket, bucketRegion };
  return {
    summary,
    warnings,
    steps: STEPS,
    fingerprint: fingerprint(targets.map((t) => [t.instanceId, t.platform])),
    data,
    detail,
  };
}

const STEPS = ['send capture commands', 'wait for the capture', 'send uploads', 'wait for the uploads', 'verify the images'];

function scratchDirs(memory: ActionContext['memory'], targets: CaptureTarget[]): string {
  return [...new Set(targets.map((t) => (t.platform === 'Linux' ? memory.scratchDir.linux : memory.scratchDir.windows)))].join(' / ');
}

export function metadataFor(ctx: Pick<ActionContext, 'caseId' | 'requestId' | 'requestedBy'>, instanceId: string): Record<string, string> {
  return { 'ir-case': ctx.caseId.slice(0, 200), 'ir-instance': instanceId, 'ir-request': ctx.requestId, 'ir-requested-by': ctx.requestedBy };
}

/** The scratch directory's name on the instance: one per request, so a retry finds its image. */
function captureIdOf(requestId: string): string {
  return requestId.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 64);
}

export function sha256Base64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

/** The document's parameters for one phase; URLs travel as parameters, never as script text. */
async function parametersFor(ctx: ActionContext, t: CaptureTarget, data: MemoryPlanData, phase: Phase, image?: Reported): Promise<Record<string, string[]>> {
  const { aws, memory } = ctx;
  const linux = t.platform === 'Linux';
  const common = { action: [phase], captureId: [captureIdOf(ctx.requestId)], workDir: [linux ? memory.scratchDir.linux : memory.scratchDir.windows], executionTimeout: [String(memory.timeoutMinutes * 60)] };
  if (phase === 'capture') {
    // The tool is fetched right after delivery; the URL need not outlive that.
    const tool = s3Parts(linux ? memory.tools.linux! : memory.tools.windows!);
    const toolUrl = await getSignedUrl(aws.clients.s3, new GetObjectCommand({ Bucket: tool.bucket, Key: tool.key }), { expiresIn: DELIVERY_SECONDS + 300 });
    const minFreeMiB = (t.memoryMiB ?? 1024) + SPARE_MIB;
    return { ...common, toolUrl: [toolUrl], minFreeMiB: [String(minFreeMiB)] };
  }
  // S3 checks a presigned URL's expiry when the upload starts, so it need only outlive delivery.
  const put = new PutObjectCommand({ Bucket: data.bucket, Key: t.key, Metadata: metadataFor(ctx, t.instanceId), ChecksumSHA256: sha256Base64(image!.sha256), IfNoneMatch: '*' });
  const uploadUrl = await getSignedUrl(s3In(aws, data.bucketRegion), put, {
    expiresIn: DELIVERY_SECONDS + 120,
    // Signed as headers, so the instance must send exactly these: S3 rejects another body, or a second write.
    unhoistableHeaders: new Set(['x-amz-checksum-sha256']),
    signableHeaders: new Set(['if-none-match', 'x-amz-checksum-sha256']),
  });
  return { ...common, uploadUrl: [uploadUrl], sha256: [sha256Base64(image!.sha256)] };
}

interface PhaseRecord {
  requestId: string;
  instanceId: string;
  commandId: string;
  startedAt: string;
}

/** The command for this request, instance and phase: the stored one, one SSM already has, or a new one. */
async function commandFor(ctx: ActionContext, t: CaptureTarget, data: MemoryPlanData, phase: Phase, image?: Reported): Promise<PhaseRecord> {
  const { aws, memory } = ctx;
  const name = commandRecordName(ctx.requestId, t.instanceId, phase);
  const stored = await ctx.records.get<PhaseRecord>(name);
  if (stored) return stored;
  const comment = `ir-bot memory ${phase === 'upload' ? 'upload ' : ''}${ctx.requestId}`.slice(0, 100);
  // A crash between SendCommand and storing its id must not start a second command.
  const listed = await aws.send(aws.clients.ssm, new ListCommandsCommand({ InstanceId: t.instanceId, MaxResults: 50 }));
  let commandId = listed.Commands?.find((c) => c.Comment === comment)?.CommandId;
  if (!commandId) {
    const out = await aws.send(
      aws.clients.ssm,
      new SendCommandCommand({
        InstanceIds: [t.instanceId],
        DocumentName: memory.ssmDocument,
        Comment: comment,
        TimeoutSeconds: DELIVERY_SECONDS,
        Parameters: await parametersFor(ctx, t, data, phase, image),
      }),
    );
    commandId = out.Command?.CommandId;
    if (!commandId) throw new Error(`SSM accepted the command for ${t.instanceId} but returned no command id`);
  }
  const record: PhaseRecord = { requestId: ctx.requestId, instanceId: t.instanceId, commandId, startedAt: ctx.now().toISOString() };
  await ctx.records.putIfAbsent(name, record);
  if (phase === 'capture') await noteCapture(ctx, t.instanceId, { status: 'sent', commandId, bucket: data.bucket, key: t.key });
  return (await ctx.records.get<PhaseRecord>(name)) ?? record;
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

interface Reported {
  sha256: string;
  bytes: number;
}

function capturedOf(output: string): Reported | undefined {
  const m = [...output.matchAll(/^IRBOT captured sha256=([0-9a-f]{64}) bytes=(\d+)/gm)].at(-1);
  return m ? { sha256: m[1], bytes: Number(m[2]) } : undefined;
}

interface Captured {
  target: CaptureTarget;
  commandId: string;
  startedAt: string;
  state?: CommandState;
  image?: Reported;
}

/** Status checks in one job run before a longer wait goes back to Redis (NotYet) instead of holding a worker. */
export const POLLS_PER_RUN = 6;

async function waitAll(ctx: ActionContext, step: number, items: Captured[]): Promise<void> {
  if (items.length === 0) return;
  const started = Math.min(...items.map((c) => Date.parse(c.startedAt)));
  const deadline = started + (ctx.memory.timeoutMinutes + 10) * 60_000;
  let wait = ctx.memory.pollIntervalMs;
  for (let poll = 1; ; poll++) {
    await Promise.all(items.filter((c) => !c.state || isRunning(c.state.status)).map(async (c) => (c.state = await commandState(ctx.aws, c.commandId, c.target.instanceId))));
    const running = items.filter((c) => isRunning(c.state!.status));
    if (running.length === 0) return;
    const label = items.map((c) => `${c.target.instanceId} ${c.state!.status}${isRunning(c.state!.status) && stageOf(c.state!.output) ? ` (${stageOf(c.state!.output)})` : ''}`).join(', ');
    await ctx.progress(step, STEPS.length, label);
    if (ctx.now().getTime() > deadline) throw new Error(`${running.map((c) => c.target.instanceId).join(', ')} still running after ${ctx.memory.timeoutMinutes} min`);
    if (poll >= POLLS_PER_RUN) throw new NotYet(ctx.memory.maxPollIntervalMs, `memory capture running: ${label}`);
    await ctx.sleep(wait);
    wait = Math.min(wait * 2, ctx.memory.maxPollIntervalMs);
  }
}

function failureOf(c: Captured, what: string): string {
  const s = c.state!;
  const why = (s.error.match(/^IRBOT error=(.*)$/m)?.[1] ?? s.error.trim().split('\n').slice(-2).join(' ')).slice(0, 300) || 'no error output';
  return `${c.target.instanceId}: ${what} ${s.status} (command ${c.commandId}): ${why}`;
}

/** The capture's outcome before upload: the image to upload, or why there is none. */
function readyToUpload(c: Captured, scratch: string): { image?: Reported; failure?: string } {
  if (c.state!.status !== 'Success') return { failure: failureOf(c, 'capture') };
  const image = capturedOf(c.state!.output);
  if (!image) return { failure: `${c.target.instanceId}: the capture command succeeded but printed no hash and size (command ${c.commandId})` };
  if (image.bytes > PUT_LIMIT_BYTES) {
    return { failure: `${c.target.instanceId}: the image is ${(image.bytes / 1024 ** 3).toFixed(2)} GiB, more than the 5 GiB one upload carries: not uploaded; it stays in ${scratch} on the instance (sha256 ${image.sha256})` };
  }
  return { image };
}

async function verifyImage(ctx: ActionContext, data: MemoryPlanData, c: Captured): Promise<{ ok: boolean; line: string }> {
  const { aws } = ctx;
  const id = c.target.instanceId;
  const uri = `s3://${data.bucket}/${c.target.key}`;
  const reported = c.image!;
  if (c.state!.status !== 'Success') return { ok: false, line: `${failureOf(c, 'upload')}; the image stays on the instance (sha256 ${reported.sha256})` };
  const s3 = s3In(aws, data.bucketRegion);
  let head;
  try {
    head = await aws.send(s3, new HeadObjectCommand({ Bucket: data.bucket, Key: c.target.key, ChecksumMode: 'ENABLED' }));
  } catch (err) {
    if (err instanceof AwsCallError && err.kind === 'not-found') return { ok: false, line: `${id}: no image at ${uri} although the upload command succeeded` };
    throw err;
  }
  const problems: string[] = [];
  if (head.ChecksumSHA256 !== sha256Base64(reported.sha256)) problems.push(head.ChecksumSHA256 ? `S3's SHA-256 is ${head.ChecksumSHA256}, the instance reported ${sha256Base64(reported.sha256)}` : 'S3 holds no SHA-256 checksum for the object');
  if (head.ContentLength !== reported.bytes) problems.push(`S3 holds ${head.ContentLength} bytes, the instance wrote ${reported.bytes}`);
  if (head.Metadata?.['ir-instance'] !== id || head.Metadata?.['ir-case'] !== metadataFor(ctx, id)['ir-case']) problems.push('the object does not carry this case and instance in its metadata');
  const size = `${(reported.bytes / 1024 ** 3).toFixed(2)} GiB (${reported.bytes} bytes)`;
  const version = head.VersionId ? ` version ${head.VersionId},` : '';
  if (problems.length) return { ok: false, line: `${id}: ${uri},${version} ${size}: not verified: ${problems.join('; ')}` };
  await aws.send(
    s3,
    new PutObjectTaggingCommand({
      Bucket: data.bucket,
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
  await noteCapture(ctx, id, { status: 'verified', bucket: data.bucket, key: c.target.key, image: { versionId: head.VersionId, sha256: reported.sha256, bytes: reported.bytes, verifiedAt: ctx.now().toISOString() } });
  return { ok: true, line: `${id}: ${uri},${version} ${size}, sha256 ${reported.sha256} ✓ (S3's checksum matches)` };
}

async function execute(p: PlanView, ctx: ActionContext): Promise<ActionOutcome> {
  const data = p.data as MemoryPlanData;
  const captures: Captured[] = [];
  const uploads: Captured[] = [];
  const lines: string[] = [];
  let verified = 0;
  const failed = async (id: string, line: string) => {
    lines.push(`${line} ✗`);
    await noteFailed(ctx, [id], line);
  };
  try {
    await runSteps(ctx, [
      {
        label: STEPS[0],
        run: async () => {
          for (const t of data.targets) {
            const rec = await commandFor(ctx, t, data, 'capture');
            captures.push({ target: t, commandId: rec.commandId, startedAt: rec.startedAt });
          }
          return `capture command(s) sent: ${captures.map((c) => `${c.target.instanceId} ${c.commandId}`).join(', ')}`;
        },
      },
      {
        label: STEPS[1],
        run: async () => {
          await waitAll(ctx, 2, captures);
          return `capture finished: ${captures.map((c) => `${c.target.instanceId} ${c.state!.status}`).join(', ')}`;
        },
      },
      {
        label: STEPS[2],
        run: async () => {
          for (const c of captures) {
            const scratch = c.target.platform === 'Linux' ? ctx.memory.scratchDir.linux : ctx.memory.scratchDir.windows;
            const ready = readyToUpload(c, scratch);
            if (!ready.image) {
              await failed(c.target.instanceId, ready.failure!);
              continue;
            }
            const rec = await commandFor(ctx, c.target, data, 'upload', ready.image);
            uploads.push({ target: c.target, commandId: rec.commandId, startedAt: rec.startedAt, image: ready.image });
          }
          return uploads.length ? `upload command(s) sent: ${uploads.map((c) => `${c.target.instanceId} ${c.commandId}`).join(', ')}` : undefined;
        },
      },
      {
        label: STEPS[3],
        run: async () => {
          await waitAll(ctx, 4, uploads);
          return undefined;
        },
      },
      {
        label: STEPS[4],
        run: async () => {
          for (const c of uploads) {
            const v = await verifyImage(ctx, data, c);
            if (v.ok) {
              verified++;
              lines.push(v.line);
            }
            else await failed(c.target.instanceId, v.line);
          }
          return undefined;
        },
      },
    ]);
  } catch (err) {
    if (!(err instanceof NotYet)) await noteFailed(ctx, data.targets.map((t) => t.instanceId), `the capture request failed: ${(err as Error).message}`);
    throw err;
  }
  if (verified === 0) {
    // Nothing was captured: the request fails, and a stop or terminate waiting on it stays blocked.
    throw new FinalError(`memory capture failed: ${lines.join('; ')}`);
  }
  const outcome = {
    ok: verified === data.targets.length,
    lines,
    notes: [
      'The upload URL accepted only the SHA-256 the instance computed before upload, and only into an empty key; "✓" means S3\'s own SHA-256 of the object (HeadObject) equals it. Linux images are AVML-compressed LiME (avml-convert turns them into plain LiME for Volatility).',
      ...data.skipped.map((s) => `Skipped: ${s}`),
    ],
  };
  return digestOutcome(outcome, data.targets.length, ctx.requestId, (ok, all) => `${ok} of ${all} memory images verified in S3 ✓`);
}

export const memoryAction: ResponseAction = { plan, execute };

/** For a stop or terminate: the instance's latest capture in this account and region, if any. */
export async function latestCapture(ctx: ActionContext, instanceId: string): Promise<CaptureRecord | undefined> {
  const record = await ctx.records.get<CaptureRecord>(captureRecordName(instanceId));
  if (!record || record.account !== ctx.aws.account || record.region !== ctx.aws.region) return undefined;
  return record;
}

/** "memory image s3://…" as evidence, from a verified capture only. */
export function imageEvidence(r: CaptureRecord): string | undefined {
  if (captureStatus(r) !== 'verified' || !r.image) return undefined;
  return `memory image s3://${r.bucket}/${r.key}${r.image.versionId ? ` (version ${r.image.versionId})` : ''}, sha256 ${r.image.sha256}, verified by S3's checksum (request ${r.requestId})`;
}
