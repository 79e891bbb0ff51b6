import { performance } from 'node:perf_hooks';
import { RequestStore } from '../src/requests/store';
import type { ActionRequest } from '../src/requests/model';
import type { Harness } from '../test/support/harness';
import { SIGNING_SECRET } from '../test/support/harness';
import { slackSignature, slashCommandBody } from '../test/support/slack-signing';

const started = performance.now();

/** A line on stderr with the seconds since the bench started: a long run shows it is alive. */
export function progress(message: string): void {
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1)} s] ${message}\n`);
}

/** Per wait; a bench that hangs is a bench that fails. `BENCH_TIMEOUT_SECONDS` overrides it. */
export const WAIT_MS = Number(process.env.BENCH_TIMEOUT_SECONDS ?? 300) * 1000;

const ENDED_BADLY = ['failed', 'refused', 'rejected', 'expired'];

/** What the bot said to refuse a command (":no_entry: …" through response_url or ephemerally), if it did. */
export function refusal(h: Harness): string | undefined {
  const said = [...h.slack.responses.map((r) => String(r.body?.text ?? '')), ...h.slack.callsOf('chat.postEphemeral').map((c) => String(c.args.text ?? ''))];
  return said.find((t) => t.includes(':no_entry:'));
}

/**
 * Polls `check` until it returns something; throws at once when the bot refused a command (with
 * its reason), and after `timeoutMs` with what it was waiting for.
 */
export async function until<T>(h: Harness, check: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== null && v !== false) return v;
    const no = refusal(h);
    if (no) throw new Error(`${what}: the bot refused: ${no}`);
    if (performance.now() > deadline) throw new Error(`${what}: nothing after ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends a signed `/ir <text>` as `userId`. */
export async function command(h: Harness, text: string, userId = 'U01ANA'): Promise<void> {
  const body = slashCommandBody(text, { userId, responseUrl: `${h.slack.baseUrl}/respond/bench` });
  const res = await fetch(`${h.baseUrl}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...slackSignature(SIGNING_SECRET, body) }, body });
  if (res.status !== 200) throw new Error(`/ir ${text}: the bot answered ${res.status}`);
}

/** The request `action` made for `firstInstance`, once `state` holds; throws on a request that ended otherwise. */
export async function requestFor(h: Harness, action: string, firstInstance: string, state: (r: ActionRequest) => boolean, timeoutMs = WAIT_MS): Promise<ActionRequest> {
  const store = new RequestStore(h.redis, h.config.redisPrefix, 3600);
  let last: ActionRequest | undefined;
  return until(
    h,
    async () => {
      const keys = await h.redis.keys(`${h.config.redisPrefix}:req:${action}-${firstInstance}-*`);
      last = keys.length ? await store.get(keys[0].split(':req:')[1]) : undefined;
      if (last && state(last)) return last;
      if (last && ENDED_BADLY.includes(last.state)) throw new Error(`${action} ${firstInstance}: ${last.state}: ${JSON.stringify(last.failure ?? last.plan?.blocked ?? last.notice)}`);
      return undefined;
    },
    `${action} ${firstInstance} (last seen ${last?.state ?? 'not yet made'})`,
    timeoutMs,
  );
}

/**
 * Sends `/ir <command>` for each entry (all at once), then waits until every request they made is
 * done; `check` rejects a result that would make the figures meaningless.
 */
export async function runCommands(
  h: Harness,
  commands: { text: string; action: string; firstInstance: string }[],
  check: (r: ActionRequest) => void,
): Promise<{ wallMs: number; perRequestMs: number[] }> {
  const t0 = performance.now();
  await Promise.all(commands.map((c) => command(h, c.text)));
  const done = await Promise.all(commands.map((c) => requestFor(h, c.action, c.firstInstance, (r) => r.state === 'done')));
  done.forEach(check);
  return { wallMs: performance.now() - t0, perRequestMs: done.map((r) => r.finishedAt! - r.createdAt) };
}
