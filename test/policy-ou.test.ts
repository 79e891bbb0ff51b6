/**
 * A policy rule's `ou`: the match over an account's OU path, the refusal of malformed OU ids at
 * start-up, the Organizations walk up to the root and its failures, and the Redis cache.
 */
import { AccessDeniedException, AWSOrganizationsNotInUseException, ListParentsCommand, OrganizationsClient, TooManyRequestsException } from '@aws-sdk/client-organizations';
import { mockClient } from 'aws-sdk-client-mock';
import { Redis } from 'ioredis';
import { fileSchema } from '../src/config/schema';
import { organizationPaths } from '../src/aws/organizations';
import { decide, explainMatch, type Policy } from '../src/policy/match';
import { OuPaths } from '../src/policy/ou';
import { policyProblems } from '../src/policy/validate';
import { findingFrom } from './support/harness';

const CHILD = 'ou-ab12-devteam01';
const PARENT = 'ou-ab12-workload1';
const ROOT = 'r-ab12';
const IN_CHILD = { path: [CHILD, PARENT, ROOT] };
const NO_PROTECTION = { protectedTags: [], protectedPrincipals: [] };
const DENIED = 'the bot may not call organizations:ListParents (AccessDeniedException)';

const fileWith = (rules: unknown[]) => fileSchema.parse({ channels: { default: 'C01ALERTS' }, autonomy: { rules } });
const miner = findingFrom('guardduty-crypto-dns');

describe('matching on an Organizations OU', () => {
  const policy: Policy = fileWith([
    { name: 'workloads', match: { types: ['CryptoCurrency:*'], ou: [PARENT] }, mode: 'contain', actions: ['isolate'] },
    { name: 'all-miners', match: { types: ['CryptoCurrency:*'] }, mode: 'approve' },
  ]).autonomy;

  it('holds for an account in a child of a listed OU, and names the OU that held', () => {
    const d = decide(policy, miner, NO_PROTECTION, IN_CHILD);
    expect(d).toMatchObject({ kind: 'rule', rule: 'workloads', mode: 'contain', matched: ['type CryptoCurrency:*', `OU ${PARENT}`], actions: [{ action: 'isolate' }] });
    expect(d).not.toHaveProperty('brake', expect.any(String));
    // Directly in the listed OU holds too.
    expect(explainMatch({ ou: [PARENT] }, miner, { path: [PARENT, ROOT] })).toEqual({ matched: [`OU ${PARENT}`] });
  });

  it('does not hold for an account elsewhere in the organization, and says where it is', () => {
    expect(explainMatch({ ou: [PARENT] }, miner, { path: ['ou-ab12-sandbox01', ROOT] })).toEqual({ failed: `account ${miner.accountId} is under ou-ab12-sandbox01 < ${ROOT}, not ${PARENT}` });
    expect(decide(policy, miner, NO_PROTECTION, { path: [ROOT] })).toMatchObject({ kind: 'rule', rule: 'all-miners', mode: 'approve' });
  });

  it('does not hold when the OU is unknown, and says why', () => {
    expect(explainMatch({ ou: [PARENT] }, miner, { unknown: DENIED })).toEqual({ failed: `OU unknown: ${DENIED}` });
    expect(explainMatch({ ou: [PARENT] }, miner)).toEqual({ failed: 'OU unknown: not looked up' });
    const d = decide(policy, miner, NO_PROTECTION, { unknown: DENIED });
    expect(d).toMatchObject({ kind: 'rule', rule: 'all-miners', mode: 'approve', ouUnknown: `rule \`workloads\` could not be checked (OU unknown: ${DENIED})` });
    expect(d.tried).toEqual([{ rule: 'workloads', failed: `OU unknown: ${DENIED}` }]);
  });

  it('keeps a later contain rule from acting on its own when an earlier OU rule could not be checked', () => {
    // The earlier rule might have sent this account's findings to approval: the later one must not guess.
    const p = fileWith([
      { name: 'prod-accounts', match: { ou: [PARENT] }, mode: 'approve' },
      { name: 'all-miners', match: { types: ['CryptoCurrency:*'] }, mode: 'contain', actions: ['isolate'] },
    ]).autonomy;
    expect(decide(p, miner, NO_PROTECTION, { unknown: 'throttled' })).toMatchObject({ rule: 'all-miners', brake: 'the earlier rule `prod-accounts` could not be checked (OU unknown: throttled)' });
    expect(decide(p, miner, NO_PROTECTION, { path: ['ou-ab12-sandbox01', ROOT] })).not.toHaveProperty('brake', expect.any(String));
  });
});

describe('OU ids at start-up', () => {
  it('refuses a malformed OU id with the path and an example', () => {
    for (const bad of ['ou-12', 'OU-AB12-CD34EF56', 'r-ab12', 'ab12-cd34ef56']) {
      const res = fileSchema.safeParse({ channels: { default: 'C01ALERTS' }, autonomy: { rules: [{ name: 'x', match: { ou: [bad] }, mode: 'approve' }] } });
      expect(res.success).toBe(false);
      expect(JSON.stringify(res.error?.issues)).toContain('must be an Organizations OU id such as ou-ab12-cd34ef56');
      expect(res.error?.issues[0].path).toEqual(['autonomy', 'rules', 0, 'match', 'ou', 0]);
    }
    expect(fileWith([{ name: 'x', match: { ou: [CHILD] }, mode: 'approve' }]).autonomy.rules[0].match.ou).toEqual([CHILD]);
  });

  it('refuses a rule an earlier one shadows on the same OUs, not one on other OUs', () => {
    const rule = (name: string, ou: string[]) => ({ name, match: { types: ['CryptoCurrency:*'], ou }, mode: 'approve' });
    expect(policyProblems(fileWith([rule('both', [CHILD, PARENT]), rule('child', [CHILD])]))[0]).toContain('autonomy.rules[1] (child): can never decide');
    expect(policyProblems(fileWith([rule('parent', [PARENT]), rule('child', [CHILD])]))).toEqual([]);
  });
});

describe('looking up the OU path in Organizations', () => {
  const org = mockClient(OrganizationsClient);
  afterEach(() => org.reset());
  afterAll(() => org.restore());
  const meta = { $metadata: { httpStatusCode: 400 }, message: 'x' };

  it('walks ListParents from the account up to the root', async () => {
    org.on(ListParentsCommand, { ChildId: '444455556666' }).resolves({ Parents: [{ Id: CHILD, Type: 'ORGANIZATIONAL_UNIT' }] });
    org.on(ListParentsCommand, { ChildId: CHILD }).resolves({ Parents: [{ Id: PARENT, Type: 'ORGANIZATIONAL_UNIT' }] });
    org.on(ListParentsCommand, { ChildId: PARENT }).resolves({ Parents: [{ Id: ROOT, Type: 'ROOT' }] });
    const orgs = organizationPaths(1);
    await expect(orgs.lookup('444455556666')).resolves.toEqual([CHILD, PARENT, ROOT]);
    orgs.destroy();
  });

  it.each([
    ['denied', new AccessDeniedException(meta), DENIED],
    ['not in an organization', new AWSOrganizationsNotInUseException(meta), "the bot's account is not in an AWS Organization"],
    ['throttled', new TooManyRequestsException(meta), 'AWS throttled organizations:ListParents (TooManyRequestsException)'],
  ])('says why when %s', async (_n, err, why) => {
    org.on(ListParentsCommand).rejects(err);
    const orgs = organizationPaths(1);
    await expect(orgs.lookup('444455556666')).rejects.toThrow(why);
    orgs.destroy();
  });
});

describe('the OU path cache', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(process.env.TEST_REDIS_URL!);
  });
  afterAll(() => redis.quit());

  it('looks an account up once per cache period, a failure for a minute, and the Slack process reads only what was recorded', async () => {
    const prefix = `ou-${Date.now()}`;
    let calls = 0;
    const ous = new OuPaths(redis, prefix, 3600, async (account) => {
      calls++;
      if (account === '999999999999') throw new Error(DENIED);
      return [CHILD, ROOT];
    });
    expect(await ous.of('444455556666')).toEqual({ path: [CHILD, ROOT] });
    expect(await ous.of('444455556666')).toEqual({ path: [CHILD, ROOT] });
    expect(await ous.of('999999999999')).toEqual({ unknown: DENIED });
    expect(await ous.of('999999999999')).toEqual({ unknown: DENIED });
    expect(calls).toBe(2);
    expect(await redis.ttl(`${prefix}:autonomy:ou:444455556666`)).toBeGreaterThan(3500);
    expect(await redis.ttl(`${prefix}:autonomy:ou:999999999999`)).toBeLessThanOrEqual(60);

    const readOnly = new OuPaths(redis, prefix, 3600);
    expect(await readOnly.of('444455556666')).toEqual({ path: [CHILD, ROOT] });
    expect(await readOnly.of('123456789012')).toEqual({ unknown: 'not looked up in the last 3600 s (the worker looks it up when a finding of account 123456789012 arrives)' });
  });
});
