import { parseEvents } from '../src/findings/events';
import type { Finding } from '../src/findings/model';
import { routeFinding } from '../src/findings/route';
import { fixture } from './support/harness';

function one(name: string): Finding {
  const parsed = parseEvents(fixture(name), 10);
  if ('error' in parsed) throw new Error(parsed.error);
  expect(parsed.rejected).toEqual([]);
  expect(parsed.findings).toHaveLength(1);
  return parsed.findings[0];
}

describe('GuardDuty and Security Hub findings → one Finding model', () => {
  it('CryptoCurrency:EC2/BitcoinTool.B!DNS: instance, DNS domain, counts', () => {
    const f = one('guardduty-crypto-dns');
    expect(f).toMatchObject({
      source: 'guardduty',
      product: 'GuardDuty',
      type: 'CryptoCurrency:EC2/BitcoinTool.B!DNS',
      severity: 8,
      severityLabel: 'HIGH',
      accountId: '123456789012',
      region: 'us-east-1',
      count: 12,
      firstSeen: '2026-11-22T02:51:13.000Z',
      lastSeen: '2026-11-22T03:44:05.000Z',
      actionType: 'DNS_REQUEST',
      remote: { domain: 'xmr.pool.minergate.com' },
      instance: {
        id: 'i-0a1b2c3d4e5f60718',
        name: 'web-1',
        type: 'm5.xlarge',
        imageId: 'ami-0abcdef1234567890',
        vpcId: 'vpc-0a1b2c3d4e5f60718',
        subnetId: 'subnet-0a1b2c3d4e5f60718',
        privateIps: ['10.0.1.25'],
        publicIps: ['203.0.113.7'],
        networkInterfaceIds: ['eni-0a1b2c3d4e5f60718'],
      },
    });
    expect(f.principal).toBeUndefined();
    expect(f.key).toMatch(/^[0-9a-f]{24}$/);
  });

  it('UnauthorizedAccess:EC2/SSHBruteForce: inbound remote IP, local port 22, LOW', () => {
    const f = one('guardduty-ssh-bruteforce');
    expect(f).toMatchObject({ severityLabel: 'LOW', actionType: 'NETWORK_CONNECTION', localPort: 22, count: 230 });
    expect(f.remote).toEqual({ ip: '198.51.100.44', port: 53412, country: 'Netherlands', organization: 'Example Hosting' });
  });

  it('Backdoor:EC2/C&CActivity.B: outbound C&C peer', () => {
    const f = one('guardduty-backdoor-cc');
    expect(f.remote).toMatchObject({ ip: '192.0.2.66', port: 443 });
    expect(f.instance?.id).toBe('i-0c3d4e5f607182930');
  });

  it('Trojan:EC2/DNSDataExfiltration: domain, instance without public IP', () => {
    const f = one('guardduty-dns-exfiltration');
    expect(f.remote?.domain).toBe('a1b2c3d4e5f6.exfil.example.net');
    expect(f.instance?.publicIps).toEqual([]);
  });

  it('Recon:EC2/PortProbeUnprotectedPort: prober and probed port', () => {
    const f = one('guardduty-port-probe');
    expect(f).toMatchObject({ actionType: 'PORT_PROBE', localPort: 3389, remote: { ip: '198.51.100.200', country: 'Russia' } });
  });

  it('InstanceCredentialExfiltration.OutsideAWS: access key, role ARN, API call and user agent', () => {
    const f = one('guardduty-credential-exfiltration');
    expect(f.principal).toEqual({
      accessKeyId: 'ASIAEXAMPLE7QRSTUVWX',
      userName: 'web-app-role',
      userType: 'AssumedRole',
      arn: 'arn:aws:iam::123456789012:role/web-app-role',
    });
    expect(f.apiCall).toMatchObject({ service: 's3.amazonaws.com', name: 'ListBuckets' });
    expect(f.apiCall?.userAgent).toContain('<!channel>');
    expect(f.instance?.id).toBe('i-0a1b2c3d4e5f60718');
    expect(f.remote?.ip).toBe('198.51.100.9');
  });

  it('Security Hub copy of a GuardDuty finding: same key as the direct one, GuardDuty type and 0-10 severity', () => {
    const direct = one('guardduty-backdoor-cc');
    const f = one('securityhub-guardduty');
    expect(f.key).toBe(direct.key);
    expect(f).toMatchObject({
      source: 'securityhub',
      product: 'GuardDuty',
      type: 'Backdoor:EC2/C&CActivity.B',
      severity: 8,
      severityLabel: 'HIGH',
      count: 5,
      workflowStatus: 'NEW',
      recordState: 'ACTIVE',
      instance: { id: 'i-0c3d4e5f607182930', name: 'app-2', privateIps: ['10.0.3.31'], publicIps: ['203.0.113.31'] },
      remote: { ip: '192.0.2.66', port: 443 },
    });
    expect(f.consoleUrl).toContain('securityhub/home?region=us-east-1');
  });

  it('a non-GuardDuty ASFF finding (Inspector) still gives a usable finding', () => {
    const f = one('securityhub-inspector');
    expect(f).toMatchObject({
      product: 'Inspector',
      type: 'Software and Configuration Checks/Vulnerabilities/CVE',
      severity: 9,
      severityLabel: 'CRITICAL',
      count: 1,
      instance: { id: 'i-0f60718293a4b5c6d', privateIps: ['10.0.6.66'] },
    });
  });

  it('an unknown GuardDuty type with no resource details still parses', () => {
    const e = fixture('guardduty-port-probe');
    e.detail.type = 'Execution:Runtime/SomethingNew';
    e.detail.resource = { resourceType: 'EKSCluster' };
    delete e.detail.service.action;
    const parsed = parseEvents(e, 1);
    if ('error' in parsed) throw new Error(parsed.error);
    expect(parsed.findings[0].type).toBe('Execution:Runtime/SomethingNew');
    expect(parsed.findings[0].instance).toBeUndefined();
    expect(parsed.findings[0].remote).toBeUndefined();
  });
});

describe('routing', () => {
  const channels = {
    default: 'C01ALERTS',
    routes: [
      { minSeverity: 7, channel: 'C02CRIT' },
      { findingTypePrefix: 'CryptoCurrency:', channel: 'C03CRYPTO' },
      { account: '210987654321', minSeverity: 4, channel: 'C05PROD' },
    ],
  };
  it.each([
    [{ severity: 8, type: 'CryptoCurrency:EC2/BitcoinTool.B!DNS', accountId: '123456789012' }, 'C02CRIT', 0],
    [{ severity: 5, type: 'CryptoCurrency:EC2/BitcoinTool.B!DNS', accountId: '123456789012' }, 'C03CRYPTO', 1],
    [{ severity: 5, type: 'Recon:EC2/PortProbeUnprotectedPort', accountId: '210987654321' }, 'C05PROD', 2],
    [{ severity: 2, type: 'Recon:EC2/PortProbeUnprotectedPort', accountId: '210987654321' }, 'C01ALERTS', 'default'],
  ])('%j → %s', (finding, channel, matched) => {
    expect(routeFinding(finding, channels)).toEqual({ channel, matched });
  });
});
