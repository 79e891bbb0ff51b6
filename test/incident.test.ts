/**
 * What the card says about the incident, from the records alone: requests (done, partial, undone,
 * waiting), workflow marks and findings. Pure functions, so each rule is checked on its own here;
 * test/incident-card.test.ts drives the same through Slack.
 */
import { findingFrom } from './support/harness';
import { incidentOf } from '../src/cards/incident';
import { escalationOf, summarize } from '../src/cards/escalation';
import { renderCard } from '../src/views/card';
import type { ActionRequest } from '../src/requests/model';

const ID = ['i-0000000000000a001', 'i-0000000000000a002', 'i-0000000000000a003'];
const findings = ID.map((id, i) => findingFrom('guardduty-crypto-dns', (e) => ((e.detail.id = `${i}`.repeat(32)), (e.detail.resource.instanceDetails.instanceId = id))));
const ACCESS = { approvers: ['U02LEAD', 'U03BOSS'], twoPersonRule: true };
let seq = 0;
function req(action: ActionRequest['action'], targets: string[], over: Partial<ActionRequest> = {}): ActionRequest {
  seq += 1;
  return { id: `${action}-x-${seq}`, action, target: targets[0], targets, channel: 'C1', requestedBy: 'U01ANA', createdAt: seq, finishedAt: 1000 + seq, state: 'done', version: 1, renderedVersion: 1, needsApproval: true, rev: 1, result: { ok: true, lines: [], notes: [] }, ...over };
}
const buttons = (view: ReturnType<typeof renderCard>) => JSON.stringify(view.blocks);

describe('the incident from its records', () => {
  it('a partial bulk isolation counts only the instances its result verified', () => {
    const partial = req('isolate', ID, { result: { ok: false, lines: [`${ID[0]}: verified: …`, `${ID[1]}: FAILED at step 2 (quarantine): throttled`, `skipped, ${ID[2]}: terminated`], notes: [] } });
    const inc = incidentOf(findings, [partial], {}, ACCESS);
    expect(inc.contained).toEqual({ n: 1, m: 3, by: { isolated: 1 } });
    expect(inc.status).toBe('new');
    expect(inc.next).toBe('Contain: isolate 2 instances');
  });

  it('a partial stop or snapshot counts the instances whose own lines are all ✓ (a snapshot with one failed volume is not snapshotted)', () => {
    const stop = req('stop', ID, { result: { ok: false, lines: [`${ID[0]}: stopped ✓`, `${ID[1]}: stopped ✓`, `${ID[2]}: running ✗`], notes: [] } });
    const snap = req('snapshot', ID, {
      result: {
        ok: false,
        lines: [
          `${ID[0]} /dev/xvda vol-1 → snap-1 (8 GiB) completed ✓`,
          `${ID[0]} /dev/xvdf vol-2 → snap-2 (100 GiB) completed ✓`,
          `${ID[1]} /dev/xvda vol-3 → snap-3 (8 GiB) completed ✓`,
          `${ID[1]} /dev/xvdf vol-4: no snapshot of this request: throttled ✗`,
        ],
        notes: [],
      },
    });
    const inc = incidentOf(findings, [stop, snap], {}, ACCESS);
    const done = (id: string) => Object.keys(inc.resources.find((r) => r.id === id)!.done).sort();
    expect(done(ID[0])).toEqual(['snapshotted', 'stopped']);
    expect(done(ID[1])).toEqual(['stopped']);
    expect(done(ID[2])).toEqual([]);
    expect(inc.contained.by).toEqual({ stopped: 2 });
  });

  it('a revoke-sessions whose role policy was not verified does not count the instance as revoked, though its own line is ✓', () => {
    const revoke = req('revoke-sessions', [ID[0]], { result: { ok: false, lines: ['role web-role: deny sessions issued before 03:00 not verified ✗', `${ID[0]}: instance profile web-role ✓`], notes: [] } });
    const inc = incidentOf(findings, [revoke], {}, ACCESS);
    expect(inc.resources.find((r) => r.id === ID[0])!.done).toEqual({});
  });

  it('a release after an isolation takes it back; an "already isolated" refusal counts as isolated (found so)', () => {
    const inc = incidentOf(findings, [req('isolate', [ID[0]]), req('release', [ID[0]]), req('isolate', [ID[1]], { state: 'refused', result: undefined, plan: { summary: [], warnings: [], steps: [], fingerprint: '', blocked: `${ID[1]} is already isolated since 03:00` } })], {}, ACCESS);
    expect(inc.resources.find((r) => r.id === ID[0])!.done).toEqual({});
    expect(inc.resources.find((r) => r.id === ID[1])!.done.isolated).toEqual({});
    expect(inc.contained.n).toBe(1);
  });

  it('waiting approvals name who may approve, without the requester under the two-person rule', () => {
    const inc = incidentOf(findings, [req('stop', [ID[0]], { state: 'awaiting-approval', requestedBy: 'U02LEAD' })], { ack: { by: 'U01ANA', at: 1 } }, ACCESS);
    expect(inc.status).toBe('acknowledged');
    expect(inc.approvals.map((a) => a.approvers)).toEqual([['U03BOSS']]);
    expect(inc.next).toMatch(/^Approve or reject the stop/);
  });

  it('every resource contained → contained, next is to preserve; a Resolve click resolves until a finding is updated after it', () => {
    const all = req('isolate', ID);
    expect(incidentOf(findings, [all], {}, ACCESS)).toMatchObject({ status: 'contained', next: 'Preserve: snapshot 3 instances (capture memory first if it matters)' });
    const resolvedAt = Date.parse(findings[0].updatedAt) + 1000;
    expect(incidentOf(findings, [all], { resolved: { by: 'U01ANA', at: resolvedAt, status: 'RESOLVED' } }, ACCESS).status).toBe('resolved');
    const later = [{ ...findings[0], updatedAt: new Date(resolvedAt + 1000).toISOString() }, ...findings.slice(1)];
    expect(incidentOf(later, [all], { resolved: { by: 'U01ANA', at: resolvedAt, status: 'RESOLVED' } }, ACCESS).status).toBe('contained');
  });

  it('a single card drops Isolate once isolated, keeps Snapshot (a later set is new evidence), and says who did what', () => {
    const f = findings[0];
    const inc = incidentOf([f], [req('isolate', [f.instance!.id], { approvedBy: 'U02LEAD' }), req('snapshot', [f.instance!.id])], {}, ACCESS);
    const view = renderCard([f], { storm: false, listLimit: 5, incident: inc });
    expect(buttons(view)).not.toContain('"ir_isolate"');
    expect(buttons(view)).toContain('"ir_snapshot"');
    expect(buttons(view)).toContain('"ir_memory"');
    expect(buttons(view)).toContain(`isolated by <@U01ANA> (approved by <@U02LEAD>)`);
    expect(buttons(view)).toContain(':camera: snapshotted by <@U01ANA>');
    // Without the records, both are offered (the check above can fail).
    expect(buttons(renderCard([f], { storm: false, listLimit: 5 }))).toContain('"ir_isolate"');
  });
});

describe('what an escalation announces', () => {
  const low = findingFrom('guardduty-port-probe', (e) => ((e.detail.severity = 2), (e.detail.type = 'Recon:EC2/PortProbeUnprotectedPort')));
  const sequence = findingFrom('guardduty-attack-sequence');

  it('a higher severity and an attack sequence are news; a repeat and a less severe new type are not', () => {
    const before = summarize([findings[0]]);
    expect(escalationOf(before, summarize([findings[0], { ...findings[0], count: 99 }]), findings)).toBeUndefined();
    expect(escalationOf(before, summarize([findings[0], low]), [findings[0], low])).toBeUndefined();
    const esc = escalationOf(before, summarize([findings[0], sequence]), [findings[0], sequence]);
    expect(esc?.severity).toBe('CRITICAL');
    expect(esc?.changes.map((c) => c.kind)).toEqual(['severity', 'sequence']);
  });

  it('a new type as severe as the card is news', () => {
    const other = { ...findings[1], type: 'Backdoor:EC2/C&CActivity.B', key: 'f'.repeat(24) };
    const esc = escalationOf(summarize([findings[0]]), summarize([findings[0], other]), [findings[0], other]);
    expect(esc?.changes).toEqual([{ kind: 'type', text: 'new finding type Backdoor:EC2/C&CActivity.B' }]);
  });
});
