/**
 * Every real-format finding in ../shared/corpus (written by others: GuardDuty samples, Security
 * Hub controls, Inspector, Config, Access Analyzer, Health, third parties) becomes a card that
 * names every affected resource, fits Slack's limits, and carries no finding text as live mrkdwn.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isConsoleHost } from '../src/findings/console';
import { CUSTOM_ACTION_DETAIL_TYPE, parseEvents } from '../src/findings/events';
import { CardStore } from '../src/cards/store';
import { renderCard } from '../src/views/card';
import { preview } from '../src/preview';
import { code } from '../src/views/mrkdwn';
import { blockKitProblems, liveTokens, mrkdwnTexts } from './support/block-kit';
import { startHarness, tearDownAfterEach, type Harness } from './support/harness';

// CI lays shared/ beside the clone.
const DIR = resolve(__dirname, '..', '..', 'shared', 'corpus', 'findings');
const present = existsSync(join(DIR, 'manifest.json'));
if (!present) process.stderr.write(`corpus.test.ts: skipped, no corpus at ${DIR} (expected ../shared/corpus beside the repository)\n`);
const describeCorpus = present ? describe : describe.skip;

interface Entry {
  file: string;
  kind: 'guardduty' | 'asff' | 'event';
}
const entries: Entry[] = present ? JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) : [];

/** Security Hub events that carry no finding (the corpus README names them). */
const NOT_FINDINGS = ['Security Hub Insight Results', 'Security Hub Findings'];

function eventOf(e: Entry, raw: any): any {
  if (e.kind === 'event') return raw;
  if (e.kind === 'guardduty') return { version: '0', 'detail-type': 'GuardDuty Finding', source: 'aws.guardduty', detail: raw };
  return { version: '0', 'detail-type': 'Security Hub Findings - Imported', source: 'aws.securityhub', detail: { findings: [raw] } };
}

function load(e: Entry): any {
  return eventOf(e, JSON.parse(readFileSync(join(DIR, e.file), 'utf8')));
}

const PREVIEW_CONFIG = 'channels: { default: C01ALERTS }\nsecurityHub: { customActions: { ir-isolate: isolate } }\n';

const isFindingEvent = (ev: any) => !NOT_FINDINGS.includes(ev['detail-type']);

/** Every string leaf (dates, ids, regions included) gets a mention, a link and an entity appended. */
const POISON = '<!here><https://evil.example|x>&amp;<@U0LEAD>';
function poison(v: any, key?: string): any {
  if (key === 'detail-type') return v;
  if (typeof v === 'string') return `${v}${POISON}`;
  if (Array.isArray(v)) return v.map((x) => poison(x));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, poison(x, k)]));
  return v;
}

/** Each `<…>` in our mrkdwn is an AWS console link, a Slack date or a channel: nothing else is live. */
function foreignTokens(texts: string[]): string[] {
  return texts.flatMap(liveTokens).filter((t) => {
    if (/^!date\^\d+\^[^|]*\|[^|]*$/.test(t)) return false;
    if (/^#C[A-Z0-9]+$/.test(t)) return false;
    const m = /^(https:\/\/[^|\s]+)\|[^|]*$/.exec(t);
    if (m) {
      const u = new URL(m[1]);
      return !isConsoleHost(u.hostname) || u.username !== '' || u.port !== '';
    }
    return true;
  });
}

describeCorpus('the real-format corpus (../shared/corpus)', () => {
  it('has the files its manifest lists', () => {
    expect(entries.length).toBeGreaterThanOrEqual(100);
    for (const e of entries) expect(existsSync(join(DIR, e.file))).toBe(true);
  });

  it.each(entries.map((e) => [e.file, e] as const))('%s: accepted (or refused as no finding), every resource on a card within Slack limits', (_name, e) => {
    const ev = load(e);
    const parsed = parseEvents(ev, 10);
    if ('error' in parsed) throw new Error(parsed.error);
    // `npm run preview` takes every file too: cards for findings, the reason for the rest.
    const shown = preview(JSON.stringify(ev), PREVIEW_CONFIG) as { ok: boolean; output: any };
    expect(shown.ok).toBe(isFindingEvent(ev));
    expect(shown.output.findings).toHaveLength(parsed.findings.length);
    if (!isFindingEvent(ev)) {
      expect(parsed.findings).toEqual([]);
      expect(parsed.rejected).toEqual([{ where: 'event.detail-type', reason: expect.stringMatching(/not a finding|insight|pre-2019/) }]);
      return;
    }
    expect(parsed.rejected).toEqual([]);
    const expected = e.kind === 'event' && ev.detail?.findings ? ev.detail.findings.length : 1;
    expect(parsed.findings).toHaveLength(expected);
    if (ev['detail-type'] === CUSTOM_ACTION_DETAIL_TYPE) {
      expect(parsed.customActions).toEqual([expect.objectContaining({ actionName: ev.detail.actionName, findingKeys: parsed.findings.map((f) => f.key) })]);
    }
    parsed.findings.forEach((f, i) => {
      const raw = e.kind === 'guardduty' ? ev.detail : e.kind === 'asff' ? ev.detail.findings[0] : ev.detail.findings?.[i] ?? ev.detail;
      // ASFF: every Resources entry; GuardDuty: at least the resource it names.
      if (f.format === 'asff') expect(f.resources).toHaveLength((raw.Resources ?? []).filter((r: any) => r.Id).length);
      else expect(f.resources?.length).toBeGreaterThan(0);

      const view = renderCard([f], { storm: false, listLimit: 10 });
      expect(blockKitProblems(view.blocks)).toEqual([]);
      const texts = mrkdwnTexts(view.blocks);
      const all = texts.join('\n');
      for (const r of f.resources ?? []) expect(all).toContain(code(r.id, 200));
      expect(all).not.toContain('no resource named');
      expect(foreignTokens([...texts, view.text])).toEqual([]);
    });
  });

  it.each(entries.map((e) => [e.file, e] as const))('%s: with every string poisoned, nothing reaches mrkdwn live and links stay on the console host', (_name, e) => {
    const ev = poison(load(e));
    const parsed = parseEvents(ev, 10);
    if ('error' in parsed) throw new Error(parsed.error);
    if (!isFindingEvent(ev)) return;
    // Poisoned ids, dates and regions are odd, not fatal: every finding still gets its card.
    expect(parsed.rejected).toEqual([]);
    expect(parsed.findings.length).toBeGreaterThan(0);
    for (const f of parsed.findings) {
      expect(f.notes?.length).toBeGreaterThan(0);
      const view = renderCard([f], { storm: false, listLimit: 10 });
      expect(blockKitProblems(view.blocks)).toEqual([]);
      const texts = mrkdwnTexts(view.blocks);
      expect(foreignTokens([...texts, view.text])).toEqual([]);
      expect([...texts, view.text].join('\n')).not.toContain('<!here>');
      // A poisoned region or account offers nothing that would act in AWS.
      expect(JSON.stringify(view.blocks)).not.toMatch(/"ir_(isolate|snapshot|disable_key|deny_principal|revoke_sessions)"/);
    }
  });
});

/** Responses that contain: a closed finding must offer none, on its card or in a menu. */
const CONTAINMENT_IDS = /"ir_(isolate|memory|disable_key|deny_principal|revoke_sessions)(_\d+)?"|"ir_bulk_(isolate|memory|stop)"/;

describeCorpus('closed findings in the corpus', () => {
  it('every finding its provider closed (resolved, suppressed, archived, passed, OCSF Close) shows that state and offers no containment', () => {
    const closed: string[] = [];
    for (const e of entries) {
      const ev = load(e);
      const parsed = parseEvents(ev, 10);
      if ('error' in parsed) continue;
      for (const f of parsed.findings) {
        const raw = JSON.stringify(ev);
        const saysClosed = /"(RecordState|Status|WorkflowState)":\s*"(ARCHIVED|RESOLVED|SUPPRESSED|PASSED)"|"archived":\s*true|"activity_id":\s*3\b/.test(raw);
        if (!f.closed) {
          // Only a finding whose file says nothing closed it may stay active (a multi-finding event can mix).
          if (parsed.findings.length === 1) expect({ file: e.file, closed: saysClosed }).toEqual({ file: e.file, closed: false });
          continue;
        }
        closed.push(e.file);
        const view = renderCard([f], { storm: false, listLimit: 10 });
        expect({ file: e.file, containment: CONTAINMENT_IDS.test(JSON.stringify(view.blocks)) }).toEqual({ file: e.file, containment: false });
        expect(JSON.stringify(view.blocks[0])).toContain('RESOLVED ·');
        expect(mrkdwnTexts(view.blocks).join('\n')).toContain(`*${f.closed.state}* by its provider`);
      }
    }
    // The corpus holds resolved, archived and passed findings: the check above is not empty.
    expect(closed.length).toBeGreaterThanOrEqual(10);
  });
});

describeCorpus('the corpus through POST /aws/events', () => {
  let h: Harness | undefined;
  tearDownAfterEach(() => ({ h }));

  it('answers 202 for every finding (stored with a card) and 400 with a reason for the events that are not findings', async () => {
    h = await startHarness({ worker: false });
    const store = new CardStore(h.redis, h.config.redisPrefix);
    for (const e of entries) {
      const ev = load(e);
      const res = await h.postEvents(ev);
      if (!isFindingEvent(ev)) {
        expect({ file: e.file, status: res.status }).toEqual({ file: e.file, status: 400 });
        expect(res.body.rejected[0].reason).toMatch(/not a finding|insight|pre-2019/);
        continue;
      }
      expect({ file: e.file, status: res.status, rejected: res.body.rejected }).toEqual({ file: e.file, status: 202, rejected: [] });
      for (const a of res.body.accepted) expect(await store.cardOf(a.key)).toBeDefined();
    }
  });
});
