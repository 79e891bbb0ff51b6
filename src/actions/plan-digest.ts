import type { ActionOutcome } from './results';
import type { ActionContext } from './types';

/**
 * Which instances a line is about, for a reader: "all 10", "9 of 10 (not i-…)", or the ids when
 * they are few. Ids are never shortened: a reader copies them.
 */
export function whom(ids: string[], all: string[]): string {
  if (ids.length === all.length) return all.length === 1 ? ids[0] : `${all.length} instances`;
  const others = all.filter((id) => !ids.includes(id));
  if (ids.length <= 2) return ids.join(', ');
  if (others.length <= 2) return `${ids.length} instances (all but ${others.join(', ')})`;
  return `${ids.length} instances (listed in the file)`;
}

/** Lines to the instances that have them, in first-seen order. */
export function byLine(entries: { id: string; lines: string[] }[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of entries) for (const l of new Set(e.lines)) out.set(l, [...(out.get(l) ?? []), e.id]);
  return out;
}

/** The plan file a bulk plan attaches in the thread: one name per request and plan revision. */
export function planFile(ctx: Pick<ActionContext, 'requestId' | 'planRevision' | 'aws'>, title: string, count: number, body: string[]): { filename: string; content: string } {
  const head = `${title}: ${count} instance(s) in account ${ctx.aws.account} / ${ctx.aws.region}, request ${ctx.requestId}, plan revision ${ctx.planRevision}`;
  return { filename: `plan-${ctx.requestId}-r${ctx.planRevision}.txt`.replace(/[^\w.-]/g, '_'), content: [head, '', ...body].join('\n') };
}

/** From this many instances a multi-instance plan is digested; fewer are read as fast line by line. */
export const DIGEST_FROM = 4;

/** Whether a plan over this many instances is digested (see digestPerInstance). */
export const digests = (instances: number): boolean => instances >= DIGEST_FROM;

/**
 * A plan's summary over several instances: under DIGEST_FROM instances each full line as it is;
 * from it, instances whose `same` text is equal share one bullet ("11 instances: running →
 * stopped"), at most `maxLines` bullets (the rest counted), and every full line goes to the plan
 * file. `then`: the plan's further lines; `fileTail`: more for the file. The pointer to the file
 * is the summary's last line.
 */
export function digestPerInstance(
  entries: { id: string; same: string; full: string }[],
  ctx: Pick<ActionContext, 'requestId' | 'planRevision' | 'aws'>,
  title: string,
  { then = [], fileTail = [], maxLines = 5 }: { then?: string[]; fileTail?: string[]; maxLines?: number } = {},
): { summary: string[]; detail?: { filename: string; content: string } } {
  if (!digests(entries.length)) return { summary: [...entries.map((e) => e.full), ...then] };
  const all = entries.map((e) => e.id);
  const groups = [...byLine(entries.map((e) => ({ id: e.id, lines: [e.same] })))].sort((a, b) => b[1].length - a[1].length);
  const summary = groups.slice(0, maxLines).map(([line, ids]) => `${whom(ids, all)}: ${line}`);
  const rest = groups.slice(maxLines).reduce((n, [, ids]) => n + ids.length, 0);
  if (rest) summary.push(`and ${rest} more instance(s) with changes of their own`);
  const detail = planFile(ctx, title, entries.length, [...entries.map((e) => e.full), ...(fileTail.length ? ['', ...fileTail] : [])]);
  return { summary: [...summary, ...then, `Every instance, one line each: ${detail.filename} in this thread`], detail };
}

/**
 * A result over many instances, as the thread shows it: the count first ("20 of 22 snapshots
 * completed ✓, 2 ✗"), then only the lines that need a look (✗), then the file that holds every
 * line. `lines` stay complete for the report and the card. Under DIGEST_FROM instances, unchanged.
 */
export function digestOutcome(outcome: ActionOutcome, instances: number, requestId: string, counted: (ok: number, all: number) => string, maxShown = 10): ActionOutcome {
  if (instances < DIGEST_FROM || outcome.attachment) return outcome;
  const bad = outcome.lines.filter((l) => l.includes('✗'));
  const ok = outcome.lines.length - bad.length;
  const filename = `result-${requestId}.txt`.replace(/[^\w.-]/g, '_');
  const summary = [`${counted(ok, outcome.lines.length)}${bad.length ? `, ${bad.length} ✗` : ''}`, ...bad.slice(0, maxShown)];
  if (bad.length > maxShown) summary.push(`and ${bad.length - maxShown} more ✗ in the file`);
  summary.push(`Every line of the verified state: ${filename} in this thread`);
  return { ...outcome, summary, attachment: { filename, content: `${outcome.lines.join('\n')}\n` } };
}
