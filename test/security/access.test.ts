import type { WebClient } from '@slack/web-api';
import { Authorizer } from '../../src/bot/authz';
import { loadConfig } from '../../src/config/load';
import { createLogger } from '../../src/log';
import { needsApproval } from '../../src/requests/guard';
import { FakeAws } from '../support/fake-aws';
import { BASE_FILE_CONFIG, fixture, startHarness, tearDownAfterEach, testEnv, waitFor, writeConfigFile, type Harness } from '../support/harness';
import { click, ephemeralsFor, nextResponse, slash } from '../support/slack-user';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const FAST_AWS = { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 };

async function cryptoCard(h: Harness) {
  expect((await h.postEvents(fixture('guardduty-crypto-dns'))).status).toBe(202);
  return waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the crypto card');
}

async function requestCount(h: Harness): Promise<number> {
  return (await h.redis.keys(`${h.config.redisPrefix}:req:*`)).length;
}

describe('who may act: the defaults fail closed', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('with no responders configured nobody may act, suppress a finding or read the trail, and start-up says so', async () => {
    const lines: string[] = [];
    const log = createLogger('warn', { write: (l: string) => void lines.push(l) });
    new Authorizer(loadConfig(testEnv({ IR_CONFIG: writeConfigFile({ channels: BASE_FILE_CONFIG.channels }) })).access, log).logPolicy();
    expect(lines.join('\n')).toContain('access.responders is empty: nobody may request actions');

    aws = FakeAws.withWebServer(INSTANCE);
    h = await startHarness({ file: { access: {}, aws: FAST_AWS } });
    const card = await cryptoCard(h);
    await click(h, card, 'ir_isolate', 'U01ANA');
    await click(h, card, 'ir_wf_suppress', 'U01ANA');
    const told = await waitFor(() => (ephemeralsFor(h, 'U01ANA').length >= 2 ? ephemeralsFor(h, 'U01ANA') : undefined), 'two refusals');
    for (const t of told) expect(t).toContain('No responders are configured (`access.responders` is empty)');
    let before = h.slack.responses.length;
    await slash(h, 'audit i-0a1b2c3d4e5f60718', 'U01ANA');
    expect(await nextResponse(h, 'U01ANA', before)).toContain('Only responders and approvers may use `/ir audit`');
    before = h.slack.responses.length;
    await slash(h, 'status', 'U01ANA');
    expect(await nextResponse(h, 'U01ANA', before)).toContain('Only responders and approvers may use `/ir status`');
    expect(await requestCount(h)).toBe(0);
    expect(aws.securityHubUpdates).toEqual([]);
  });

  it('["*"] lets everyone in the workspace ask, but not guests nor users of another workspace', async () => {
    h = await startHarness({
      file: { access: { responders: ['*'], approvers: ['U02LEAD'], requireApproval: ['isolate'] } },
      worker: false,
      slackOptions: { users: { U07GUEST: { is_restricted: true }, U08MCGUEST: { is_ultra_restricted: true }, U09EXT: { team_id: 'T0OTHERORG' } } },
    });
    let before = h.slack.responses.length;
    await slash(h, `isolate ${INSTANCE}`, 'U05ANYONE');
    expect(await nextResponse(h, 'U05ANYONE', before)).toContain('Queued *isolate*');
    for (const [user, why] of [
      ['U07GUEST', 'Guest accounts may not act'],
      ['U08MCGUEST', 'Guest accounts may not act'],
      ['U09EXT', 'another workspace or organisation (T0OTHERORG)'],
    ]) {
      before = h.slack.responses.length;
      await slash(h, `isolate i-0fedcba9876543210 <!subteam^S01SOC> #general https://evil.example`, user);
      const text = await nextResponse(h, user, before);
      expect(text).toContain(why);
      expect(text).toContain('Nothing was queued');
    }
    expect(await requestCount(h)).toBe(1);
  });

  it('refuses a click whose payload comes from another workspace even when users.info is silent about it', async () => {
    const a = new Authorizer(loadConfig(testEnv({ IR_CONFIG: writeConfigFile({ ...BASE_FILE_CONFIG, access: { responders: ['*'] } }) })).access, createLogger('silent'));
    const client = {
      auth: { test: async () => ({ ok: true, team_id: 'T0EXAMPLE' }) },
      users: { info: async () => ({ ok: true, user: { id: 'U1', team_id: 'T0EXAMPLE' } }) },
    } as unknown as WebClient;
    expect(await a.check({ userId: 'U1', teamIds: ['T0EXAMPLE'] }, 'responders', client)).toEqual({ ok: true });
    const res = await a.check({ userId: 'U1', teamIds: ['T0STRANGER', 'T0EXAMPLE'] }, 'responders', client);
    expect(res).toMatchObject({ ok: false, reason: expect.stringContaining('T0STRANGER') });
  });

  it('with no approvers configured nobody approves: responders no longer approve each other', async () => {
    const a = new Authorizer(loadConfig(testEnv({ IR_CONFIG: writeConfigFile({ ...BASE_FILE_CONFIG, access: { responders: ['U01ANA', 'U03BOB'] } }) })).access, createLogger('silent'));
    const client = { auth: { test: async () => ({ ok: true, team_id: 'T0EXAMPLE' }) }, users: { info: async () => ({ ok: true, user: { team_id: 'T0EXAMPLE' } }) } } as unknown as WebClient;
    expect(await a.check('U03BOB', 'approvers', client)).toMatchObject({ ok: false, reason: expect.stringContaining('`access.approvers` is empty') });
  });
});

describe('undo is as guarded as the action', () => {
  it('release, enable-key, allow and restore-sessions need the approval of their action by default; revoke-sessions needs approval by default', () => {
    const cfg = loadConfig(testEnv({ IR_CONFIG: writeConfigFile({ channels: BASE_FILE_CONFIG.channels, access: { responders: ['U01ANA'], approvers: ['U02LEAD'] } }) }));
    expect(cfg.access.requireApproval).toContain('revoke-sessions');
    for (const undo of ['release', 'enable-key', 'allow-principal', 'restore-sessions'] as const) expect(needsApproval(undo, cfg.access)).toBe(true);
    expect(needsApproval('snapshot', cfg.access)).toBe(false);
    expect(needsApproval('release', { ...cfg.access, undoNeedsApproval: false })).toBe(false);
  });
});

describe('group membership that Slack cannot confirm', () => {
  it('uses a cached membership only for the configured time, then refuses with the reason', async () => {
    let now = 1_000_000;
    let fail = false;
    const client = {
      auth: { test: async () => ({ ok: true, team_id: 'T0EXAMPLE' }) },
      users: { info: async () => ({ ok: true, user: { team_id: 'T0EXAMPLE' } }) },
      usergroups: {
        users: {
          list: async () => {
            if (fail) throw new Error('An API error occurred: internal_error');
            return { ok: true, users: ['U05SOC'] };
          },
        },
      },
    } as unknown as WebClient;
    const access = loadConfig(testEnv({ IR_CONFIG: writeConfigFile({ ...BASE_FILE_CONFIG, access: { responders: ['S01SOC'], membershipMaxStaleMinutes: 15 } }) })).access;
    const a = new Authorizer(access, createLogger('silent'), 5 * 60_000, () => now);
    expect(await a.isResponder('U05SOC', client)).toBe(true);
    fail = true;
    now += 10 * 60_000;
    expect(await a.isResponder('U05SOC', client)).toBe(true);
    now += 10 * 60_000;
    const res = await a.check('U05SOC', 'responders', client);
    expect(res).toMatchObject({ ok: false });
    expect(!res.ok && res.reason).toContain('20 min old (over the 15-minute limit)');
  });
});

describe('reports stay in the channel the finding was routed to', () => {
  let h: Harness;
  let aws: FakeAws;
  tearDownAfterEach(() => ({ h, aws }));

  it('never uploads a report into the channel /ir report was typed in when that is not the finding\'s channel', async () => {
    aws = FakeAws.withWebServer(INSTANCE);
    // The card cannot be shown anywhere yet (both channels refuse): there is no thread to follow.
    h = await startHarness({ file: { aws: FAST_AWS }, slackOptions: { refusedChannels: { C02CRIT: 'not_in_channel', C01ALERTS: 'not_in_channel' } } });
    expect((await h.postEvents(fixture('guardduty-crypto-dns'))).status).toBe(202);
    const id = fixture('guardduty-crypto-dns').detail.id as string;
    const before = h.slack.responses.length;
    await slash(h, `report ${id}`, 'U01ANA', 'C09PUBLIC');
    expect(await nextResponse(h, 'U01ANA', before)).toContain('Building the incident report');
    const file = await waitFor(() => [...h.slack.files.values()].find((f) => f.channel), 'the uploaded report');
    expect(file.channel).not.toBe('C09PUBLIC');
    expect(['C02CRIT', 'C01ALERTS']).toContain(file.channel);
  });
});

describe('the bot cannot lock itself or the organisation out', () => {
  let h: Harness;
  tearDownAfterEach(() => ({ h }));

  it('refuses deny-all, revoke-sessions and key-disabling aimed at its own role and at break-glass principals', async () => {
    h = await startHarness({
      file: {
        access: { responders: ['U01ANA'], approvers: ['U02LEAD'], protectedPrincipals: ['break-glass', 'arn:aws:iam::123456789012:user/root-admin'] },
        aws: { ...FAST_AWS, responderRoleArn: 'arn:aws:iam::{account}:role/ir-responder' },
      },
      worker: false,
    });
    const cases: [string, string][] = [
      ['deny arn:aws:iam::123456789012:role/ir-responder', 'the role ir-bot acts through'],
      ['revoke-sessions arn:aws:sts::123456789012:assumed-role/ir-responder/isolate-i-1', 'the role ir-bot acts through'],
      ['deny arn:aws:iam::210987654321:role/emergency/break-glass', 'protected (break-glass) principal'],
      ['revoke-sessions arn:aws:iam::123456789012:role/break-glass', 'protected (break-glass) principal'],
      ['deny arn:aws:iam::123456789012:user/root-admin', 'protected (break-glass) principal'],
    ];
    for (const [cmd, why] of cases) {
      const before = h.slack.responses.length;
      await slash(h, cmd, 'U01ANA');
      expect(await nextResponse(h, 'U01ANA', before)).toContain(why);
    }
    expect(await requestCount(h)).toBe(0);
    // Another principal in the same account is still fair game.
    const before = h.slack.responses.length;
    await slash(h, 'deny arn:aws:iam::123456789012:user/attacker', 'U01ANA');
    expect(await nextResponse(h, 'U01ANA', before)).toContain('Queued *deny-principal*');
  });

  it('refuses, at plan time, a key whose owner, an instance whose role, or a role that is the bot itself is protected', async () => {
    const aws = new FakeAws();
    aws.account = '123456789012';
    aws.users.set('break-glass-admin', { keys: [{ id: 'AKIABREAKGLASS000001', status: 'Active' }], policies: new Map() });
    aws.addWebServer(INSTANCE);
    aws.roles.set('web-role', { policies: new Map() });
    aws.roles.set('ir-bot', { policies: new Map() });
    try {
      h = await startHarness({ file: { access: { responders: ['U01ANA'], approvers: ['U02LEAD'], requireApproval: [], protectedPrincipals: ['break-glass-admin', 'web-role'] }, aws: FAST_AWS } });
      const refusals: [string, string][] = [
        ['disable-key AKIABREAKGLASS000001', 'belongs to user break-glass-admin: user break-glass-admin is a protected (break-glass) principal'],
        [`revoke-sessions ${INSTANCE}`, `${INSTANCE} runs as role web-role: role web-role is a protected (break-glass) principal`],
        // The fake account's sts:GetCallerIdentity says the worker runs as role ir-bot.
        ['deny arn:aws:iam::123456789012:role/ir-bot', "role ir-bot is ir-bot's own identity"],
      ];
      for (const [cmd, why] of refusals) {
        await slash(h, cmd, 'U01ANA');
        await waitFor(() => h.slack.channelMessages('C01ALERTS').find((m) => JSON.stringify(m.blocks).includes(why)), `the refusal of ${cmd}`);
      }
      expect(aws.users.get('break-glass-admin')!.keys[0].status).toBe('Active');
      expect(aws.roles.get('web-role')!.policies.size).toBe(0);
      expect(aws.roles.get('ir-bot')!.policies.size).toBe(0);
      expect(aws.callsOf('UpdateAccessKey').length + aws.callsOf('PutRolePolicy').length + aws.callsOf('DisassociateIamInstanceProfile').length).toBe(0);
    } finally {
      aws.restore();
    }
  });
});
