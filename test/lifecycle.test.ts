/**
 * Findings have a lifecycle: what the provider says about a finding's state (ASFF Workflow.Status,
 * RecordState, Compliance.Status; GuardDuty service.archived; OCSF activity_id / status_id / status)
 * decides whether its card offers containment. Odd values never drop a finding: they are noted.
 */
import { findingFrom } from './support/harness';
import { routeFinding } from '../src/findings/route';
import { withReopening } from '../src/findings/lifecycle';
import { renderCard } from '../src/views/card';
import { mrkdwnTexts } from './support/block-kit';

const CHANNELS = { default: 'C01ALERTS', routes: [{ minSeverity: 7, channel: 'C02CRIT' }] };
const containment = (f: ReturnType<typeof findingFrom>) => /"ir_(isolate|memory|disable_key|deny_principal|revoke_sessions)"/.test(JSON.stringify(renderCard([f], { storm: false, listLimit: 5 }).blocks));
const asff = (mutate: (f: any) => void) => findingFrom('securityhub-guardduty', (e) => mutate(e.detail.findings[0]));
const ocsf = (mutate: (f: any) => void) => findingFrom('ocsf-guardduty-backdoor-cc', (e) => mutate(e.detail.findings[0]));

describe('a finding that arrives closed', () => {
  it.each([
    ['ASFF Workflow.Status RESOLVED', () => asff((f) => (f.Workflow = { Status: 'RESOLVED' })), 'resolved'],
    ['ASFF Workflow.Status SUPPRESSED', () => asff((f) => (f.Workflow = { Status: 'SUPPRESSED' })), 'suppressed'],
    ['ASFF RecordState ARCHIVED', () => asff((f) => (f.RecordState = 'ARCHIVED')), 'archived'],
    ['ASFF Compliance.Status PASSED', () => asff((f) => (f.Compliance = { Status: 'PASSED' })), 'resolved'],
    ['OCSF activity_id 3 (Close)', () => ocsf((f) => (f.activity_id = 3)), 'closed'],
    ['OCSF status Resolved', () => ocsf((f) => ((f.status = 'Resolved'), (f.status_id = 4))), 'resolved'],
    ['GuardDuty service.archived', () => findingFrom('guardduty-crypto-dns', (e) => (e.detail.service.archived = true)), 'archived'],
  ])('%s: shown in that state, no containment offered', (_name, make, state) => {
    const f = make();
    expect(f.closed?.state).toBe(state);
    expect(containment(f)).toBe(false);
    const text = mrkdwnTexts(renderCard([f], { storm: false, listLimit: 5 }).blocks).join('\n');
    expect(text).toContain(`*${state}* by its provider`);
  });

  it('the same findings active offer containment (the check above can fail)', () => {
    expect(containment(asff((f) => (f.Workflow = { Status: 'NEW' })))).toBe(true);
    expect(containment(findingFrom('guardduty-crypto-dns'))).toBe(true);
  });

  it('an active version after a closed one says it reopened, and keeps saying so while active', () => {
    const closed = asff((f) => (f.Workflow = { Status: 'RESOLVED' }));
    const active = asff((f) => ((f.Workflow = { Status: 'NEW' }), (f.UpdatedAt = '2026-11-23T00:00:00.000Z')));
    const reopened = withReopening(active, closed);
    expect(reopened.reopened).toEqual({ from: 'resolved', at: '2026-11-23T00:00:00.000Z' });
    expect(withReopening({ ...active, updatedAt: '2026-11-24T00:00:00.000Z' }, reopened).reopened?.from).toBe('resolved');
    expect(mrkdwnTexts(renderCard([reopened], { storm: false, listLimit: 5 }).blocks).join('\n')).toContain('*Reopened:* active again after it was resolved');
  });
});

describe('odd state fields keep the lenient card', () => {
  it.each([
    ['Workflow.Status', () => asff((f) => (f.Workflow = { Status: 'BANANA' }))],
    ['RecordState', () => asff((f) => (f.RecordState = 42))],
    ['Compliance.Status', () => asff((f) => (f.Compliance = { Status: ['PASSED'] }))],
    ['activity_id', () => ocsf((f) => (f.activity_id = 'close'))],
    ['status_id', () => ocsf((f) => (f.status_id = 17))],
    ['service.archived', () => findingFrom('guardduty-crypto-dns', (e) => (e.detail.service.archived = 'maybe'))],
  ])('%s with an odd value: kept active, noted under ⚠ Shown despite odd input', (field, make) => {
    const f = make();
    expect(f.closed).toBeUndefined();
    expect(f.notes?.join('; ')).toContain(`${field} `);
    const view = renderCard([f], { storm: false, listLimit: 5 });
    expect(mrkdwnTexts(view.blocks).join('\n')).toMatch(new RegExp(`⚠ Shown despite odd input: .*${field.replace('.', '\\.')} .*treated as active`));
    expect(containment(f)).toBe(true);
  });
});

describe('FindingProviderFields (BatchImportFindings) when the top level has no severity or types', () => {
  const thirdParty = () =>
    findingFrom('securityhub-inspector', (e) => {
      const f = e.detail.findings[0];
      delete f.Severity;
      delete f.Types;
      f.ProductArn = 'arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default';
      f.FindingProviderFields = { Severity: { Label: 'HIGH', Original: '8.5' }, Types: ['TTPs/Initial Access/Exploit Public-Facing Application'] };
    });

  it('uses their severity (routing it as HIGH) and their type in the header', () => {
    const f = thirdParty();
    expect(f.severity).toBe(8.5);
    expect(f.severityLabel).toBe('HIGH');
    expect(f.type).toBe('TTPs/Initial Access/Exploit Public-Facing Application');
    expect(f.notes ?? []).not.toContainEqual(expect.stringContaining('Severity'));
    expect(routeFinding(f, CHANNELS as any).channel).toBe('C02CRIT');
    expect(JSON.stringify(renderCard([f], { storm: false, listLimit: 5 }).blocks[0])).toContain('HIGH · TTPs/Initial Access');
  });

  it('the top level wins when both are there', () => {
    const f = findingFrom('securityhub-inspector', (e) => (e.detail.findings[0].FindingProviderFields = { Severity: { Label: 'LOW' }, Types: ['Other'] }));
    expect(f.severityLabel).toBe('CRITICAL');
    expect(f.type).toBe('Software and Configuration Checks/Vulnerabilities/CVE');
  });
});
