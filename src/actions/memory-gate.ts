import { POLLS_PER_RUN, commandState, isRunning, latestCapture } from './memory';
import { FinalError, NotYet, type ActionContext } from './types';

/**
 * A stop destroys memory (aws_ir#67 is that lesson): a stop after a memory capture waits for it,
 * and a failed capture blocks the stop until someone chooses to go on without memory.
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
}

/** `/ir stop <ids> without-memory …`: the requester's explicit choice to lose what is in memory. */
export function goesOnWithoutMemory(reason: string | undefined): boolean {
  return /^without-memory\b/i.test(reason ?? '');
}

export async function memoryGate(ctx: ActionContext, instanceIds: string[]): Promise<MemoryGate> {
  const waived = goesOnWithoutMemory(ctx.reason);
  const waits: MemoryWait[] = [];
  const summary: string[] = [];
  const failed: string[] = [];
  for (const id of instanceIds) {
    const c = await latestCapture(ctx, id);
    if (!c) continue;
    const { record, state } = c;
    if (isRunning(state.status)) {
      waits.push({ instanceId: id, commandId: record.commandId, requestId: record.requestId, startedAt: record.startedAt });
      summary.push(`${id}: first wait for its memory capture (${record.requestId}, SSM command ${record.commandId}, ${state.status}) to finish`);
    } else if (state.status !== 'Success') {
      if (waived) summary.push(`${id}: its memory capture ended ${state.status}; stopping anyway, as asked (without-memory): memory is lost`);
      else failed.push(`${id} (${record.requestId}: ${state.status})`);
    }
  }
  if (failed.length) {
    const ids = instanceIds.join(' ');
    return {
      blocked: `The memory capture of ${failed.join(', ')} failed, and stopping destroys what is in memory. Capture again (\`/ir memory ${ids}\`), or go on without memory: \`/ir stop ${ids} without-memory\`.`,
      waits,
      summary,
    };
  }
  return { waits, summary };
}

/** The stop's first step: wait until every capture it depends on has ended, and refuse to go on if one failed. */
export async function waitForCaptures(ctx: ActionContext, waits: MemoryWait[], step: number, total: number): Promise<string> {
  const deadline = Math.min(...waits.map((w) => Date.parse(w.startedAt))) + (ctx.memory.timeoutMinutes + 10) * 60_000;
  let wait = ctx.memory.pollIntervalMs;
  for (let poll = 1; ; poll++) {
    const states = await Promise.all(waits.map(async (w) => ({ w, s: await commandState(ctx.aws, w.commandId, w.instanceId) })));
    const running = states.filter((x) => isRunning(x.s.status));
    const failed = states.filter((x) => !isRunning(x.s.status) && x.s.status !== 'Success');
    if (failed.length && !goesOnWithoutMemory(ctx.reason)) {
      throw new FinalError(
        `the memory capture of ${failed.map((x) => `${x.w.instanceId} (${x.w.requestId})`).join(', ')} ended ${failed.map((x) => x.s.status).join(', ')}, so nothing was stopped. Capture again, or go on without memory: \`/ir stop ${waits.map((w) => w.instanceId).join(' ')} without-memory\`.`,
      );
    }
    if (running.length === 0) return `memory capture finished for ${waits.map((w) => w.instanceId).join(', ')}`;
    const label = `waiting for the memory capture of ${running.map((x) => x.w.instanceId).join(', ')}`;
    await ctx.progress(step, total, label);
    if (ctx.now().getTime() > deadline) throw new Error(`memory capture of ${running.map((x) => x.w.instanceId).join(', ')} still running after ${ctx.memory.timeoutMinutes} min`);
    // Nothing has been stopped yet, so going back to Redis and re-running from the top is safe.
    if (poll >= POLLS_PER_RUN) throw new NotYet(ctx.memory.maxPollIntervalMs, label);
    await ctx.sleep(wait);
    wait = Math.min(wait * 2, ctx.memory.maxPollIntervalMs);
  }
}
