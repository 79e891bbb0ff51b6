import { FakeAws } from '../support/fake-aws';
import { startHarness, tearDownAfterEach, type Harness } from '../support/harness';
import { allEnded } from '../support/requests';
import { slash } from '../support/slack-user';

const ACCESS = { responders: ['U01ANA'], approvers: ['U02LEAD'], twoPersonRule: true, requireApproval: [] as string[] };
const FAST_AWS = { maxAttempts: 1, jobAttempts: 3, jobBackoffMs: 50 };
const TEN = Array.from({ length: 10 }, (_, k) => `i-0a1b2c3d4e5f${(0x60700 + k).toString(16)}`);

function quarantineOf(aws: FakeAws, vpc = 'vpc-0a1b2c3d') {
  return [...aws.groups.values()].find((g) => g.name === 'ir-quarantine' && g.vpcId === vpc);
}

describe('isolation stays true under concurrency and pre-existing groups (EC2 answers Duplicate/NotFound)', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('isolates ten instances of one VPC at once: every one verified, one quarantine group, its rules exact', async () => {
    aws = new FakeAws();
    for (const id of TEN) aws.addWebServer(id, { eip: false, targetGroup: false });
    // Slow calls make the ten jobs meet at the group: create, revoke and authorize interleave.
    aws.latencyMs = 25;
    h = await startHarness({ file: { access: ACCESS, aws: FAST_AWS } });
    await Promise.all(TEN.map((id) => slash(h, `isolate ${id} miner`)));
    const all = await allEnded(h, 10);
    expect(all.map((r) => `${r.target}:${r.state}:${r.result?.ok}`).sort()).toEqual(TEN.map((id) => `${id}:done:true`).sort());
    const groups = [...aws.groups.values()].filter((g) => g.name.startsWith('ir-quarantine'));
    expect(groups.map((g) => g.name).sort()).toEqual(['ir-quarantine', 'ir-quarantine-untracked']);
    const q = quarantineOf(aws)!;
    expect([q.ingress, q.egress]).toEqual([[], []]);
    for (const e of aws.enis.values()) expect(e.groups).toEqual([q.id]);
  });

  it('reconciles an all-traffic group that exists without its rules (made by hand, or by an attacker) before moving interfaces through it', async () => {
    aws = FakeAws.withWebServer(TEN[0], { eip: false, targetGroup: false });
    // Someone made the intermediate group first, with no rules: flows through it stay tracked.
    aws.groups.set('sg-0000000000000bad1', { id: 'sg-0000000000000bad1', name: 'ir-quarantine-untracked', vpcId: 'vpc-0a1b2c3d', ingress: [], egress: [] });
    h = await startHarness({ file: { access: ACCESS, aws: FAST_AWS } });
    await slash(h, `isolate ${TEN[0]}`);
    const [r] = await allEnded(h, 1);
    expect(r.state).toBe('done');
    expect(r.result!.ok).toBe(true);
    const u = aws.groups.get('sg-0000000000000bad1')!;
    expect(u.ingress).toEqual([{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }], Ipv6Ranges: [{ CidrIpv6: '::/0' }] }]);
    expect(u.egress).toEqual([{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }], Ipv6Ranges: [{ CidrIpv6: '::/0' }] }]);
    // Each move into quarantine came after the all-traffic rules were in place.
    const lastAuthorize = Math.max(...aws.calls.filter((c) => c.api.startsWith('AuthorizeSecurityGroup')).map((c) => c.at));
    const toQuarantine = aws.callsOf('ModifyNetworkInterfaceAttribute').filter((c) => c.input.Groups[0] === quarantineOf(aws)!.id);
    expect(toQuarantine.length).toBe(2);
    expect(toQuarantine.every((c) => c.at >= lastAuthorize)).toBe(true);
    expect(r.result!.lines.join('\n')).toMatch(/open connections cut/);
  });

  it('fails, and does not claim open connections were cut, when the all-traffic rules cannot be set', async () => {
    aws = FakeAws.withWebServer(TEN[0], { eip: false, targetGroup: false });
    aws.groups.set('sg-0000000000000bad1', { id: 'sg-0000000000000bad1', name: 'ir-quarantine-untracked', vpcId: 'vpc-0a1b2c3d', ingress: [], egress: [] });
    // The bot may not add rules to it (a policy without the grant): the group stays rule-less.
    const denied = Object.assign(new Error('not authorized'), { name: 'UnauthorizedOperation', $metadata: { httpStatusCode: 403 } });
    aws.failAlways('AuthorizeSecurityGroupIngress', denied);
    aws.failAlways('AuthorizeSecurityGroupEgress', denied);
    h = await startHarness({ file: { access: ACCESS, aws: FAST_AWS } });
    await slash(h, `isolate ${TEN[0]}`);
    const [r] = await allEnded(h, 1);
    expect(r.state).toBe('failed');
    expect(r.failure!.message).toMatch(/AuthorizeSecurityGroup/);
    const text = JSON.stringify(r);
    expect(text).not.toMatch(/open connections cut/);
  });
});

describe('an isolation that fails half-way says what it left open', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('names the interface left in the all-traffic group when the move into quarantine is refused', async () => {
    aws = FakeAws.withWebServer(TEN[0], { eip: false, targetGroup: false, secondEni: false });
    h = await startHarness({ file: { access: ACCESS, aws: FAST_AWS } });
    // The first move (into the all-traffic group) goes through; the second is refused for good.
    const denied = Object.assign(new Error('not authorized'), { name: 'UnauthorizedOperation', $metadata: { httpStatusCode: 403 } });
    let moves = 0;
    aws.onCall('ModifyNetworkInterfaceAttribute', () => {
      moves++;
      if (moves >= 2) throw denied;
    });
    await slash(h, `isolate ${TEN[0]}`);
    const [r] = await allEnded(h, 1);
    expect(r.state).toBe('failed');
    const untracked = [...aws.groups.values()].find((g) => g.name === 'ir-quarantine-untracked')!;
    expect(aws.enis.get(`eni-${TEN[0].slice(-8)}000000001`)!.groups).toEqual([untracked.id]);
    expect(r.failure!.message).toContain(`LEFT OPEN: eni-${TEN[0].slice(-8)}000000001 is still in the all-traffic group ${untracked.id}`);
  });
});
