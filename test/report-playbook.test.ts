import { incidentReport } from '../src/audit/report';
import type { ActionRequest } from '../src/requests/model';

function request(action: ActionRequest['action'], target: string, n: number, lines: string[]): ActionRequest {
  return {
    id: `${action}-${n}`,
    action,
    target,
    targets: [target],
    channel: 'C02CRIT',
    requestedBy: 'U01ANA',
    createdAt: Date.parse('2026-12-01T07:00:00Z') + n * 60_000,
    state: 'done',
    version: 3,
    renderedVersion: 3,
    needsApproval: action === 'terminate',
    rev: 1,
    approvedBy: action === 'terminate' ? 'U02LEAD' : undefined,
    finishedAt: Date.parse('2026-12-01T07:30:00Z'),
    result: { ok: true, lines, notes: [] },
  };
}

describe('the incident report covers preservation, scope and eradication', () => {
  it('lists memory images, the blast radius and what was terminated', () => {
    const md = incidentReport({
      findings: [],
      audit: [],
      generatedAt: new Date('2026-12-01T08:00:00Z'),
      generatedBy: 'U01ANA',
      requests: [
        request('memory', 'i-0aaaaaaaaaaaaaaa1', 1, ['i-0aaaaaaaaaaaaaaa1: s3://ir-evidence/memory/case/i-0aaaaaaaaaaaaaaa1/memory-1.lime, 3.00 GiB (3221225472 bytes), sha256 ' + 'a'.repeat(64) + ' ✓']),
        request('blast-radius', 'AKIAIOSFODNN7EXAMPLE', 2, ['AKIAIOSFODNN7EXAMPLE, user ci-deployer: 8 write(s) in 90 days, touching 15 resource(s)', 'key pair miner-key: ImportKeyPair from 2026-11-30T02:02:00Z; now exists']),
        request('terminate', 'AKIAIOSFODNN7EXAMPLE', 3, ['i-0aaaaaaaaaaaaaaa1: terminated ✓; evidence: /dev/xvda vol-1 → snap-1 (completed)']),
        request('delete-keys', 'AKIAIOSFODNN7EXAMPLE', 4, ['access key AKIAEXAMPLEBACKDOOR1 of user backdoor: deleted ✓']),
        request('revoke-rules', 'AKIAIOSFODNN7EXAMPLE', 5, ['sg-0123: tcp 22 from 0.0.0.0/0 revoked ✓']),
      ],
    });
    expect(md).toContain('## Memory images\n\n- i-0aaaaaaaaaaaaaaa1: s3://ir-evidence/memory/case/i-0aaaaaaaaaaaaaaa1/memory-1.lime, 3.00 GiB');
    expect(md).toContain('## Blast radius\n\n### AKIAIOSFODNN7EXAMPLE (`blast-radius-2`)\n\nAKIAIOSFODNN7EXAMPLE, user ci-deployer: 8 write(s) in 90 days, touching 15 resource(s)\n\n- key pair miner-key: ImportKeyPair');
    // Every eradication step: terminations, deleted keys, revoked rules.
    expect(md).toContain(
      '## Eradicated\n\n- terminate: i-0aaaaaaaaaaaaaaa1: terminated ✓; evidence: /dev/xvda vol-1 → snap-1 (completed) (`terminate-3`)\n' +
        '- delete-keys: access key AKIAEXAMPLEBACKDOOR1 of user backdoor: deleted ✓ (`delete-keys-4`)\n' +
        '- revoke-rules: sg-0123: tcp 22 from 0.0.0.0/0 revoked ✓ (`revoke-rules-5`)\n',
    );
    expect(md).toMatch(/What damage was done, and what was contained\?\n {2}- terminate AKIAIOSFODNN7EXAMPLE \(terminate-3\)/);
  });

  it('says when none of it was done through ir-bot', () => {
    const md = incidentReport({ findings: [], audit: [], requests: [], generatedAt: new Date(), generatedBy: 'U01ANA' });
    expect(md).toContain('## Memory images\n\n- none captured through ir-bot');
    expect(md).toContain('## Blast radius\n\n- not mapped through ir-bot');
    expect(md).toContain('## Eradicated\n\n- nothing eradicated through ir-bot (no termination, key deletion or rule revocation)');
    expect(md).toContain('## Hunts\n\n- none run through ir-bot');
  });
});
