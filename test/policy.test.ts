/**
 * The containment policy: which rule each real finding matches, and the start-up refusals of a
 * policy that could never work as written.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { fileSchema } from '../src/config/schema';
import { ConfigError, loadConfig } from '../src/config/load';
import { parseEvents } from '../src/findings/events';
import { decide, explainMatch, type Policy } from '../src/policy/match';
import { policyProblems } from '../src/policy/validate';
import { findingFrom, testEnv } from './support/harness';
import { blockKitProblems } from './support/block-kit';
import { renderRequestStatus } from '../src/views/request-status';
import type { ActionRequest } from '../src/requests/model';

const DIR = resolve(__dirname, '..', '..', 'shared', 'corpus', 'findings');
const present = existsSync(join(DIR, 'manifest.json'));
if (!present) process.stderr.write(`policy.test.ts: corpus part skipped, no corpus at ${DIR} (expected ../shared/corpus beside the repository)\n`);
const describeCorpus = present ? describe : describe.skip;

function fileWith(autonomy: unknown, access: unknown = {}) {
  return fileSchema.parse({ channels: { default: 'C01ALERTS' }, autonomy, access });
}

const NO_PROTECTION = { protectedTags: [], protectedPrincipals: [] };

const CORPUS_POLICY = fileWith({
  rules: [
    { name: 'gd-trojans', match: { types: ['Trojan:*', 'Backdoor:*'], products: ['GuardDuty'] }, mode: 'contain-unless-vetoed', actions: ['isolate'] },
    { name: 'gd-recon', match: { types: ['Recon:*', 'Discovery:*'] }, mode: 'shadow', actions: ['isolate'] },
    { name: 'inspector', match: { products: ['Inspector'] }, mode: 'notify' },
    { name: 'controls', match: { products: ['Security Hub'], minSeverity: 0 }, mode: 'approve' },
  ],
}).autonomy;

interface Entry {
  file: string;
  kind: 'guardduty' | 'asff' | 'event';
  type: string;
  product: string;
}

/** What the manifest (written by whoever gathered the corpus, not by our parser) says each should match. */
function expectedRule(e: Entry): string | null | undefined {
  if (e.kind === 'guardduty') {
    if (/^(Trojan|Backdoor):/.test(e.type)) return 'gd-trojans';
    if (/^(Recon|Discovery):/.test(e.type)) return 'gd-recon';
    return null;
  }
  if (e.kind === 'asff') {
    if (e.product === 'Inspector') return 'inspector';
    if (e.product === 'Security Hub') return 'controls';
    if (e.product === 'GuardDuty') return undefined;
    return null;
  }
  return undefined;
}

describeCorpus('the policy over every real finding in ../shared/corpus', () => {
  const entries: Entry[] = present ? JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) : [];
  const eventOf = (e: Entry, raw: any) =>
    e.kind === 'event'
      ? raw
      : e.kind === 'guardduty'
        ? { version: '0', 'detail-type': 'GuardDuty Finding', source: 'aws.guardduty', detail: raw }
        : { version: '0', 'detail-type': 'Security Hub Findings - Imported', source: 'aws.securityhub', detail: { findings: [raw] } };

  it.each(entries.map((e) => [e.file, e] as const))('%s: matches the rule its type and product call for', (_n, e) => {
    const parsed = parseEvents(eventOf(e, JSON.parse(readFileSync(join(DIR, e.file), 'utf8'))), 10);
    if ('error' in parsed) return;
    for (const f of parsed.findings) {
      const d = decide(CORPUS_POLICY, f, NO_PROTECTION);
      const want = expectedRule(e);
      if (want !== undefined) expect(d.kind === 'rule' ? d.rule : null).toBe(want);
      if (d.kind === 'rule') {
        // Every rule that was passed over says why, and the match says what held.
        expect(d.tried.every((t) => t.failed.length > 0)).toBe(true);
        if (d.rule === 'gd-trojans') expect(d.matched.some((m) => m.startsWith('type '))).toBe(true);
        if (d.mode === 'notify' || d.mode === 'approve') expect(d.actions).toEqual([]);
      } else {
        expect(d.tried).toHaveLength(CORPUS_POLICY.rules.length);
      }
    }
  });

  it('sends some findings to each rule (the expectations are not vacuous)', () => {
    const counts: Record<string, number> = {};
    for (const e of entries) {
      const parsed = parseEvents(eventOf(e, JSON.parse(readFileSync(join(DIR, e.file), 'utf8'))), 10);
      if ('error' in parsed) continue;
      for (const f of parsed.findings) {
        const d = decide(CORPUS_POLICY, f, NO_PROTECTION);
        counts[d.kind === 'rule' ? d.rule : 'none'] = (counts[d.kind === 'rule' ? d.rule : 'none'] ?? 0) + 1;
      }
    }
    for (const r of ['gd-trojans', 'gd-recon', 'inspector', 'controls', 'none']) expect(counts[r]).toBeGreaterThan(0);
  });
});

describe('matching one finding', () => {
  const dev = findingFrom('guardduty-crypto-dns', (e) => e.detail.resource.instanceDetails.tags.push({ key: 'env', value: 'dev' }));
  const prod = findingFrom('guardduty-crypto-dns', (e) => e.detail.resource.instanceDetails.tags.push({ key: 'env', value: 'prod' }));
  const policy: Policy = fileWith({ rules: [{ name: 'dev-miners', match: { types: ['CryptoCurrency:*'], tags: ['env=dev'] }, mode: 'contain-unless-vetoed', actions: ['isolate', 'disable-key'] }] }).autonomy;

  it('says which conditions held, and plans only the actions the finding has targets for', () => {
    const d = decide(policy, dev, NO_PROTECTION);
    expect(d).toMatchObject({ kind: 'rule', rule: 'dev-miners', mode: 'contain-unless-vetoed', matched: ['type CryptoCurrency:*', 'tag env=dev'], windowSeconds: 300 });
    if (d.kind !== 'rule') throw new Error('no rule');
    expect(d.actions).toEqual([{ action: 'isolate', targets: [dev.instance!.id] }]);
  });

  it('says why a finding does not match', () => {
    expect(decide(policy, prod, NO_PROTECTION)).toEqual({ kind: 'none', tried: [{ rule: 'dev-miners', failed: 'the instance has no tag env=dev' }] });
    expect(explainMatch({ minConfidence: 50 }, dev)).toEqual({ failed: 'the finding gives no confidence' });
    expect(explainMatch({ attackSequence: true }, dev)).toEqual({ failed: 'it is not an attack sequence' });
    expect(explainMatch({ severityLabels: ['CRITICAL'] }, dev)).toEqual({ failed: 'severity HIGH is not CRITICAL' });
  });

  it('lets a protected tag win over a matching rule', () => {
    const any: Policy = fileWith({ rules: [{ name: 'miners', match: { types: ['CryptoCurrency:*'] }, mode: 'contain', actions: ['isolate'] }] }).autonomy;
    const d = decide(any, prod, { protectedTags: ['env=prod'], protectedPrincipals: [] });
    expect(d).toMatchObject({ kind: 'rule', rule: 'miners', brake: 'the instance carries the protected tag env=prod' });
    expect(decide(any, dev, { protectedTags: ['env=prod'], protectedPrincipals: [] })).not.toHaveProperty('brake', expect.any(String));
  });

  it('turns every contain rule into shadow when the whole policy is in shadow mode', () => {
    expect(decide({ ...policy, shadow: true }, dev, NO_PROTECTION)).toMatchObject({ mode: 'shadow', actions: [{ action: 'isolate' }] });
  });
});

describe('policy validation at start-up', () => {
  const problems = (rules: unknown[], extra: Record<string, unknown> = {}) => policyProblems(fileWith({ rules, ...extra }));

  it('accepts a sound policy', () => {
    expect(
      problems([
        { name: 'dev-miners', match: { types: ['CryptoCurrency:*'], tags: ['env=dev'] }, mode: 'contain-unless-vetoed', actions: ['isolate'], windowSeconds: 120 },
        { name: 'miners', match: { types: ['CryptoCurrency:*'] }, mode: 'approve' },
      ]),
    ).toEqual([]);
  });

  it('refuses a rule that can never match', () => {
    expect(problems([{ name: 'odd', match: { minSeverity: 8, maxSeverity: 3 }, mode: 'notify' }])).toEqual(['autonomy.rules[0] (odd): can never match: minSeverity 8 is above maxSeverity 3']);
    expect(problems([{ name: 'odd', match: { tags: ['env=dev', 'env=test'] }, mode: 'notify' }])[0]).toContain('tag env cannot be both dev and test');
    expect(problems([{ name: 'odd', match: { severityLabels: ['LOW'], minSeverity: 7 }, mode: 'notify' }])[0]).toContain('can never match');
  });

  it('refuses a rule an earlier one shadows', () => {
    expect(
      problems([
        { name: 'all-crypto', match: { types: ['CryptoCurrency:*'] }, mode: 'approve' },
        { name: 'dev-miners', match: { types: ['CryptoCurrency:EC2/*'], tags: ['env=dev'] }, mode: 'contain', actions: ['isolate'] },
      ]),
    ).toEqual([
      'autonomy.rules[1] (dev-miners): can never decide: the earlier rule autonomy.rules[0] (all-crypto) matches every finding it matches; put it first or narrow the earlier one',
    ]);
    // Narrower first is fine.
    expect(
      problems([
        { name: 'dev-miners', match: { types: ['CryptoCurrency:EC2/*'], tags: ['env=dev'] }, mode: 'contain', actions: ['isolate'] },
        { name: 'all-crypto', match: { types: ['CryptoCurrency:*'] }, mode: 'approve' },
      ]),
    ).toEqual([]);
  });

  it('refuses an action its mode may not run', () => {
    expect(problems([{ name: 'bad', match: { types: ['X:*'] }, mode: 'contain', actions: ['isolate', 'terminate'] }])).toEqual([
      'autonomy.rules[0] (bad): terminate may never run automatically (allowed: isolate, snapshot, memory, disable-key, revoke-sessions)',
    ]);
    expect(problems([{ name: 'bad', match: { types: ['X:*'] }, mode: 'notify', actions: ['isolate'] }])[0]).toContain('mode notify runs nothing on its own');
    expect(problems([{ name: 'bad', match: { types: ['X:*'] }, mode: 'contain' }])[0]).toContain('mode contain needs actions');
    expect(problems([{ name: 'bad', match: { types: ['X:*'] }, mode: 'contain', actions: ['isolate'], windowSeconds: 30 }])[0]).toContain('windowSeconds only applies to mode contain-unless-vetoed');
  });

  it('refuses a rule aimed at protected resources', () => {
    expect(problems([{ name: 'prod', match: { tags: ['env=prod'] }, mode: 'contain', actions: ['isolate'] }])).toEqual([
      'autonomy.rules[0] (prod): matches tag env=prod, which autonomy.protectedTags protects (env=prod): it would aim automatic containment at protected resources; match another tag or use mode approve',
    ]);
  });

  it('accepts the example config\'s policy', () => {
    const example = fileSchema.parse(parseYaml(readFileSync(resolve(__dirname, '..', 'config', 'ir-bot.example.yaml'), 'utf8')));
    expect(example.autonomy.rules.map((r) => r.name)).toEqual(['dev-miners']);
    expect(policyProblems(example)).toEqual([]);
  });

  it('reports the problems at start-up with the config file errors', () => {
    const yaml = 'channels: { default: C01ALERTS }\nautonomy:\n  rules:\n    - { name: bad, match: { types: ["X:*"] }, mode: contain, actions: [delete-keys] }\n';
    let err: unknown;
    try {
      loadConfig(testEnv({ IR_CONFIG: '/x.yaml', REDIS_URL: 'redis://127.0.0.1:1' }), () => yaml);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toContain('config file /x.yaml autonomy.rules[0] (bad): delete-keys may never run automatically');
  });
});

describe("an automatic request's status message", () => {
  const base: ActionRequest = {
    id: 'isolate-i-0a1b2c3d4e5f60718-1',
    action: 'isolate',
    target: 'i-0a1b2c3d4e5f60718',
    targets: ['i-0a1b2c3d4e5f60718'],
    channel: 'C02CRIT',
    requestedBy: 'policy:dev-miners',
    createdAt: 1_700_000_000_000,
    state: 'awaiting-approval',
    version: 3,
    renderedVersion: 2,
    needsApproval: true,
    rev: 1,
    plan: { summary: ['eni-1 (primary): sg-1 → ir-quarantine'], steps: [], warnings: [], fingerprint: 'x' },
    // A tag value is the attacker's text as much as a finding title is.
    auto: { rule: 'dev-miners', mode: 'contain-unless-vetoed', matched: ['type CryptoCurrency:*', 'tag env=<!here>'], windowMs: 300_000 },
    autoAt: 1_700_000_300_000,
    expiresAt: 1_700_001_800_000,
  };
  const now = 1_700_000_028_000;

  it('counts down with Hold first, within Slack limits and without live mentions', () => {
    const view = renderRequestStatus(base, now);
    expect(blockKitProblems(view.blocks)).toEqual([]);
    const text = JSON.stringify(view.blocks);
    expect(text).toContain('isolating `i-0a1b2c3d4e5f60718` in 4:32 unless someone clicks Hold');
    expect(text).not.toContain('<!here>');
    const buttons = (view.blocks.find((b) => b.type === 'actions') as any).elements.map((e: any) => e.text.text);
    expect(buttons).toEqual(['Hold', 'Run now', 'Reject']);
  });

  it('after a Hold waits for an approver and says who held it; once run by the rule, says so with Release', () => {
    const held = JSON.stringify(renderRequestStatus({ ...base, rev: 2, autoAt: undefined, heldBy: 'U02LEAD' }, now).blocks);
    expect(held).toContain('Automatic run stopped (held by <@U02LEAD>)');
    expect(held).not.toContain('ir_hold');
    expect(held).toContain('ir_approve');
    const done = renderRequestStatus({ ...base, state: 'done', autoAt: undefined, approvedBy: 'policy:dev-miners', result: { ok: true, lines: ['eni-1: ir-quarantine only ✓'], notes: [] } }, now);
    expect(JSON.stringify(done.blocks)).toContain('Contained automatically by rule `dev-miners`');
    expect(JSON.stringify(done.blocks)).toContain('ir_release');
  });
});
