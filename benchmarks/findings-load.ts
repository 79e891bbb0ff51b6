import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findingKey, guardDutyCanonicalId } from '../src/findings/model';

/**
 * The intake load: distinct GuardDuty findings (a real port-probe finding with its id, type,
 * account, severity and instance changed), each in numbered versions whose count and updatedAt
 * rise, spread over 10 types, 4 accounts and 3 severities (so 3 channels).
 */
const FIXTURE = readFileSync(join(__dirname, '..', 'test/fixtures/guardduty-port-probe.json'), 'utf8');

export const TYPES = [
  'CryptoCurrency:EC2/BitcoinTool.B!DNS', 'UnauthorizedAccess:EC2/SSHBruteForce', 'Backdoor:EC2/C&CActivity.B',
  'Trojan:EC2/DNSDataExfiltration', 'Recon:EC2/PortProbeUnprotectedPort', 'UnauthorizedAccess:EC2/TorClient',
  'Trojan:EC2/BlackholeTraffic', 'Backdoor:EC2/DenialOfService.Tcp', 'Recon:EC2/Portscan', 'Impact:EC2/PortSweep',
];
export const ACCOUNTS = ['111111111111', '222222222222', '333333333333', '444444444444'];

/** Version `version` (0-based) of distinct finding `i`, as one EventBridge event (JSON). */
export function findingEvent(i: number, version: number): string {
  const e = JSON.parse(FIXTURE);
  const hex = i.toString(16).padStart(8, '0');
  const d = e.detail;
  d.id = `${hex}${'c'.repeat(24)}`;
  d.type = TYPES[i % TYPES.length];
  d.accountId = ACCOUNTS[Math.floor(i / TYPES.length) % ACCOUNTS.length];
  d.severity = [2, 5, 8][i % 3];
  d.resource.instanceDetails.instanceId = `i-${hex}`;
  d.service.count = version + 1;
  d.updatedAt = new Date(Date.parse('2026-11-22T00:00:00Z') + version * 60_000).toISOString();
  return JSON.stringify(e);
}

/** The key ir-bot stores finding `i` under (the same for every version). */
export function findingKeyOf(i: number): string {
  const d = JSON.parse(findingEvent(i, 0)).detail;
  return findingKey(guardDutyCanonicalId(d.accountId, d.region, d.id));
}
