import { ModifyInstanceAttributeCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import type { ActionOutcome, PlanView } from './results';
import { InstanceUnavailable, findInstance, protectionOf } from './instance';
import { instanceStates, waitForInstances } from './instance-states';
import { memoryGate, waitForCaptures, type MemoryWait } from './memory-gate';
import { DIGEST_FROM, digestOutcome, digestPerInstance, digests } from './plan-digest';
import { FinalError, blockedPlan, fingerprint, runSteps, type ActionContext, type ResponseAction } from './types';

interface StopTarget {
  instanceId: string;
  state: string;
  stopProtection: boolean;
  spot: boolean;
}

interface StopPlanData {
  targets: StopTarget[];
  skipped: string[];
  memoryWaits?: MemoryWait[];
}

async function plan(instanceIds: string[], ctx: ActionContext): Promise<PlanView> {
  const { aws } = ctx;
  const targets: StopTarget[] = [];
  const skipped: string[] = [];
  await Promise.all(
    instanceIds.map(async (id) => {
      try {
        const i = await findInstance(aws, id);
        const protection = await protectionOf(aws, id);
        targets.push({ instanceId: id, state: i.State?.Name ?? 'unknown', stopProtection: protection.stop, spot: i.InstanceLifecycle === 'spot' });
      } catch (err) {
        if (!(err instanceof InstanceUnavailable)) throw err;
        skipped.push(err.message);
      }
    }),
  );
  targets.sort((a, b) => instanceIds.indexOf(a.instanceId) - instanceIds.indexOf(b.instanceId));
  if (targets.length === 0) return blockedPlan(skipped.join('; '));
  const live = targets.filter((t) => t.state !== 'stopped').map((t) => t.instanceId);
  const gate = await memoryGate(ctx, live, { verb: 'stop', command: `/ir stop ${live.join(' ')}`, wait: true });
  if (gate.blocked) return blockedPlan(gate.blocked);
  const running = targets.filter((t) => t.state !== 'stopped');
  const ids = running.map((t) => t.instanceId).join(' ');
  const first = [`/ir memory ${ids}`, `/ir snapshot ${ids}`];
  const change = (t: StopTarget) => (t.state === 'stopped' ? 'already stopped' : `${t.state} → stopped (never terminated)${t.stopProtection ? '; stop protection on → off, as stopping needs it' : ''}`);
  const images = [...gate.images].map(([id, image]) => `${id}: ${image}`);
  // Eleven ids twice would crowd out the warning itself: digested, the commands and images are in the file.
  const digested = digests(targets.length);
  const digest = digestPerInstance(
    targets.map((t) => ({ id: t.instanceId, same: change(t), full: `${t.instanceId}: ${change(t)}` })),
    ctx,
    'Stop',
    {
      then: [...gate.summary, ...(digested && images.length ? [`verified memory images of ${images.length} instance(s): in the file`] : images)],
      fileTail: [...(running.length ? ['Memory and disks first, unless already done:', ...first] : []), ...(images.length ? ['', 'Verified memory images:', ...images] : [])],
    },
  );
  const summary = digest.summary;
  const how = digested && running.length >= DIGEST_FROM ? `(the card's Capture memory all and Snapshot all, or the two commands in ${digest.detail?.filename})` : `(\`${first[0]}\`, then \`${first[1]}\`)`;
  const warnings = [
    ...(running.length ? [`Stopping loses what is only in memory: running processes, open connections, in-memory malware and keys. Capture memory and snapshot first ${how} unless it is already done.`] : []),
    ...targets.filter((t) => t.spot).map((t) => `${t.instanceId} is a Spot instance: a one-time Spot request cannot be stopped (only a persistent one)`),
    ...skipped,
  ];
  const data: StopPlanData = { targets, skipped, memoryWaits: gate.waits };
  const steps = [...(gate.waits.length ? ['wait for memory capture'] : []), ...(running.some((t) => t.stopProtection) ? ['turn off stop protection'] : []), 'stop instances', 'wait until stopped'];
  return { summary, warnings, steps, fingerprint: fingerprint(targets.map((t) => [t.instanceId, t.state === 'stopped', t.stopProtection])), data, detail: digest.detail };
}

/**
 * The plan's gate saw the captures of its time. One asked for since (while the stop waited for
 * approval, or for the plan's own waits) leaves the plan's fingerprint alone, so the plan carries
 * on: it is checked again right before stopping, or the stop would cut it off mid-capture.
 */
async function holdForLaterCaptures(ctx: ActionContext, ids: string[], step: number, total: number): Promise<void> {
  const gate = await memoryGate(ctx, ids, { verb: 'stop', command: `/ir stop ${ids.join(' ')}`, wait: true });
  if (gate.blocked) throw new FinalError(`${gate.blocked} Nothing was stopped.`);
  if (gate.waits.length) await waitForCaptures(ctx, gate.waits, step, total);
}

async function execute(p: PlanView, ctx: ActionContext): Promise<ActionOutcome> {
  const { aws } = ctx;
  const data = p.data as StopPlanData;
  const ids = data.targets.map((t) => t.instanceId);
  const steps: { label: string; run: () => Promise<string | undefined> }[] = [];
  if (data.memoryWaits?.length) {
    steps.push({ label: 'wait for memory capture', run: () => waitForCaptures(ctx, data.memoryWaits!, 1, p.steps.length) });
  }
  if (p.steps.includes('turn off stop protection')) {
    steps.push({
      label: 'turn off stop protection',
      run: async () => {
        const on = await Promise.all(ids.map(async (id) => ((await protectionOf(aws, id)).stop ? id : undefined)));
        for (const id of on.filter((x): x is string => !!x)) {
          await aws.send(aws.clients.ec2, new ModifyInstanceAttributeCommand({ InstanceId: id, DisableApiStop: { Value: false } }));
        }
        return 'stop protection off where it was on';
      },
    });
  }
  steps.push(
    {
      label: 'stop instances',
      run: async () => {
        const now = await instanceStates(ctx, ids);
        const toStop = ids.filter((id) => !['stopped', 'stopping'].includes(now.get(id) ?? ''));
        if (toStop.length) await holdForLaterCaptures(ctx, toStop, p.steps.indexOf('stop instances') + 1, p.steps.length);
        // One call for all of them: they stop in parallel.
        if (toStop.length) await aws.send(aws.clients.ec2, new StopInstancesCommand({ InstanceIds: toStop }));
        return toStop.length ? `stop requested for ${toStop.join(', ')}` : 'nothing left to stop';
      },
    },
    { label: 'wait until stopped', run: () => waitForInstances(ctx, ids, 'stopped', p.steps.length) },
  );
  await runSteps(ctx, steps);
  const final = await instanceStates(ctx, ids);
  const lines = data.targets.map((t) => {
    const s = final.get(t.instanceId) ?? 'unknown';
    return `${t.instanceId}: ${s}${t.state === 'stopped' ? ' (already was)' : ''} ${s === 'stopped' ? '✓' : '✗'}`;
  });
  const outcome = {
    ok: ids.every((id) => final.get(id) === 'stopped'),
    lines,
    notes: ['Stopped, not terminated: EBS volumes and the instances remain for investigation. Starting them again puts them back on the network with their current security groups.', ...data.skipped.map((s) => `Skipped: ${s}`)],
  };
  return digestOutcome(outcome, lines.length, ctx.requestId, (ok, all) => `${ok} of ${all} stopped ✓`);
}

export const stopAction: ResponseAction = { plan, execute };
