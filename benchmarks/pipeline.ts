import { performance } from 'node:perf_hooks';
import { RequestStore } from '../src/requests/store';
import type { ActionRequest } from '../src/requests/model';
import type { Harness } from '../test/support/harness';
import { SIGNING_SECRET } from '../test/support/harness';
import { slackSignature, slashCommandBody } from '../test/support/slack-signing';

/**
 * Sends `/ir <command>` for each entry (all at once), then waits until every request they made is
 * done; `check` rejects a result that would make the figures meaningless.
 */
export async function runCommands(
  h: Harness,
  commands: { text: string; action: string; firstInstance: string }[],
  check: (r: ActionRequest) => void,
): Promise<{ wallMs: number; perRequestMs: number[] }> {
  const store = new RequestStore(h.redis, h.config.redisPrefix, 3600);
  const t0 = performance.now();
  await Promise.all(
    commands.map(async (c) => {
      const body = slashCommandBody(c.text, { responseUrl: `${h.slack.baseUrl}/respond/bench` });
      await fetch(`${h.baseUrl}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...slackSignature(SIGNING_SECRET, body) }, body });
    }),
  );
  const done = new Map<string, number>();
  while (done.size < commands.length) {
    for (const c of commands) {
      if (done.has(c.text)) continue;
      const keys = await h.redis.keys(`${h.config.redisPrefix}:req:${c.action}-${c.firstInstance}-*`);
      const r = keys.length ? await store.get(keys[0].split(':req:')[1]) : undefined;
      if (r?.state === 'done') {
        check(r);
        done.set(c.text, r.finishedAt! - r.createdAt);
      } else if (r && ['failed', 'refused'].includes(r.state)) throw new Error(`${c.text}: ${r.state} ${JSON.stringify(r.failure ?? r.plan?.blocked)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { wallMs: performance.now() - t0, perRequestMs: commands.map((c) => done.get(c.text)!) };
}
