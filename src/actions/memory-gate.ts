import { POLLS_PER_RUN, captureStatus, commandState, imageEvidence, isRunning, latestCapture, type CaptureRecord } from './memory';
import { FinalError, NotYet, type ActionContext } from './types';

/**
 * A stop or a terminate destroys memory (aws_ir#67 is that lesson). Only a capture whose image S3
 * verified counts: SSM's `Success` says a script ended, not that S3 holds the image. A capture
 * still running is waited for (stop) or refused (terminate); one that failed, at any point
 * including before its command was sent, blocks until someone chooses to go on without memory.
 */
export interface MemoryWait {
  instanceId: string;
  commandId: string;
  requestId: string;
  startedAt: string;
}

export interface MemoryGate {
  blocked?: string;
  waits: MemoryWait[];
  summary: string[];
  /** Verified images by instance, for the evidence a terminate lists. */
  images: Map<string, string>;
}

/** `/ir stop <ids> without-memory …`: the requester's explicit choice to lose what is in memory. */
export function goesOnWithoutMemory(reason: string | undefined): boolean {
  return /^without-memory\b/i.test(reason ?? '');
}

/** Why this capture has no verified image, in a few words for the refusal. */
function unverified(r: CaptureRecord, ssmStatus?: string): string {
  const status = captureStatus(r);
  if (status === 'requested') return `${r.requestId}: requested, no command sent yet (awaiting its plan or approval, or it failed before SendCommand)`;
  if (status === 'failed') return `${r.requestId}: ${r.reason ?? 'failed'}`;
  if (r.status === undefined) return `${r.requestId}: SSM command ${r.commandId} ${ssmStatus ?? 'ended'}, captured before ir-bot verified images against S3's checksum`;
  return `${r.requestId}: SSM command ${r.commandId} ${ssmStatus ?? 'ended'}, no image verified in S3`;
}

/**
 * `verb` names what destroys memory. A stop waits for a capture that is still running; a
 * terminate (`wait: false`) refuses instead, as its plan has no waiting step.
 */
export async function memoryGate(ctx: ActionContext, instanceIds: string[], opts: { verb: 'stop' | 'terminate'; command: string; wait: boolean }): Promise<MemoryGate> {
  const waived = goesOnWithoutMemory(ctx.reason);
  const waits: MemoryWait[] = [];
  const summary: string[] = [];
  const failed: string[] = [];
  const images = new Map<string, string>();
  for (const id of instanceIds) {
    const r = await latestCapture(ctx, id);
    if (!r) continue;
    const status = captureStatus(r);
    const image = imageEvidence(r);
    if (image) {
      images.set(id, image);
      continue;
    }
    let ssmStatus: string | undefined;
    if (status === 'sent') {
      ssmStatus = (await commandState(ctx.aws, r.commandId!, id)).status;
      // A finished command is not yet an image: its request still has to upload and verify it.
      // A record from before statuses existed will never be verified: only a running one is worth waiting for.
      const awaited = isRunning(ssmStatus) || (ssmStatus === 'Success' && r.status !== undefined);
      if (awaited && opts.wait) {
        waits.push({ instanceId: id, commandId: r.commandId!, requestId: r.requestId, startedAt: r.startedAt });
        summary.push(`${id}: first wait for its memory capture (${r.requestId}, SSM command ${r.commandId}, ${ssmStatus}) to be verified in S3`);
        continue;
      }
    }
    if (waived) summary.push(`${id}: its memory capture has no verified image (${unverified(r, ssmStatus)}); going on anyway, as asked (without-memory): memory is lost`);
    else failed.push(`${id} (${unverified(r, ssmStatus)})`);
  }
  if (failed.length) {
    const ids = instanceIds.join(' ');
    return {
      blocked: `No verified memory image of ${failed.join(', ')}, and ${opts.verb === 'stop' ? 'stopping' : 'terminating'} destroys what is in memory. Capture again (\`/ir memory ${ids}\`) and wait for its ✓, or go on without memory: \`${opts.command} without-memory\`.`,
      waits,
      summary,
      images,
    };
  }
  return { waits, summary, images };
}

/** The stop's first step: wait until every capture it depends on is verified, and refuse to go on if one is not. */
export async function waitForCaptures(ctx: ActionContext, waits: MemoryWait[], step: number, total: number): Promise<string> {
  const deadline = Math.min(...waits.map((w) => Date.parse(w.startedAt))) + (ctx.memory.timeoutMinutes + 10) * 60_000;
  let wait = ctx.memory.pollIntervalMs;
  for (let poll = 1; ; poll++) {
    const states = await Promise.all(
      waits.map(async (w) => {
        // The instance's latest capture decides, even if a newer one replaced the one planned on.
        const current = await latestCapture(ctx, w.instanceId);
        const status = current ? captureStatus(current) : 'failed';
        if (status === 'verified' || status === 'failed' || status === 'requested') return { w, done: status === 'verified', failed: status !== 'verified', why: current ? unverified(current) : 'its record is gone' };
        const s = await commandState(ctx.aws, current!.commandId!, w.instanceId);
        const ended = !isRunning(s.status) && s.status !== 'Success';
        return { w, done: false, failed: ended, why: unverified(current!, s.status) };
      }),
    );
    const failed = states.filter((x) => x.failed);
    if (failed.length && !goesOnWithoutMemory(ctx.reason)) {
      throw new FinalError(
        `the memory capture of ${failed.map((x) => `${x.w.instanceId} (${x.why})`).join(', ')} has no verified image, so nothing was stopped. Capture again, or go on without memory: \`/ir stop ${waits.map((w) => w.instanceId).join(' ')} without-memory\`.`,
      );
    }
    const pending = states.filter((x) => !x.done && !x.failed);
    if (pending.length === 0) return `memory image verified for ${states.filter((x) => x.done).map((x) => x.w.instanceId).join(', ') || 'none (going on without memory)'}`;
    const label = `waiting for the memory capture of ${pending.map((x) => x.w.instanceId).join(', ')}`;
    await ctx.progress(step, total, label);
    if (ctx.now().getTime() > deadline) throw new Error(`memory capture of ${pending.map((x) => x.w.instanceId).join(', ')} still not verified after ${ctx.memory.timeoutMinutes} min`);
    // Nothing has been stopped yet, so going back to Redis and re-running from the top is safe.
    if (poll >= POLLS_PER_RUN) throw new NotYet(ctx.memory.maxPollIntervalMs, label);
    await ctx.sleep(wait);
    wait = Math.min(wait * 2, ctx.memory.maxPollIntervalMs);
  }
}
