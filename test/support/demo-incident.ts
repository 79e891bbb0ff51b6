import type { FakeAws } from './fake-aws';

/** The demo's routing and people (demo/ir-bot.demo.yaml), for tests that play the demo's incident. */
export const DEMO_CHANNELS = { default: 'C01SECOPS', routes: [{ findingTypePrefix: 'CryptoCurrency:', channel: 'C02CRYPTO' }] };
export const DEMO_ACCESS = { responders: ['U01ANA'], approvers: ['U02LEAD'], twoPersonRule: true, requireApproval: ['isolate'] };
export const FAST_SLACK = { postIntervalMs: 100, updatesPerMinute: 600, coalesceMs: 100 };

/** An instance isolated an hour (or `at`) ago, by hand: every interface in an empty ir-quarantine group, tagged as ir-bot tags it. */
export function isolatedEarlier(aws: FakeAws, id: string, at = new Date(Date.now() - 3600_000).toISOString()): string {
  const inst = aws.instances.get(id)!;
  const q = aws.ensureGroup('sg-0000000000quarant', 'ir-quarantine', inst.vpcId!);
  aws.groups.get(q)!.ingress = [];
  for (const eni of aws.enis.values()) if (eni.instanceId === id) eni.groups = [q];
  inst.tags = { ...inst.tags, 'ir:status': 'isolated', 'ir:at': at };
  return at;
}
