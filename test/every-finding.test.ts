/**
 * Findings beyond the classic GuardDuty EC2 ones: the new Security Hub's OCSF findings, Security
 * Hub custom actions, GuardDuty attack sequences, and odd input shown rather than refused.
 */
import { parseEvents } from '../src/findings/events';
import type { Finding } from '../src/findings/model';
import { renderCard } from '../src/views/card';
import { preview } from '../src/preview';
import { consoleLink, guardDutyConsoleUrl, isConsoleHost, resourceConsoleUrl } from '../src/findings/console';
import { suggestedHunts } from '../src/hunts/templates';
import { huntModal } from '../src/views/hunt-modal';
import { FakeAws } from './support/fake-aws';
import { blockKitProblems, mrkdwnTexts } from './support/block-kit';
import { fixture, startHarness, tearDownAfterEach, waitFor, type Harness } from './support/harness';
import { sendToBot, textOf, threadReplies } from './support/slack-user';
import { blockActionBody } from './support/slack-signing';

function parse(event: unknown): Finding[] {
  const parsed = parseEvents(event, 10);
  if ('error' in parsed) throw new Error(parsed.error);
  expect(parsed.rejected).toEqual([]);
  return parsed.findings;
}

function buttonsOf(blocks: any[]): string[] {
  return blocks.filter((b) => b.type === 'actions' && b.block_id?.startsWith('ir_card_')).flatMap((b) => b.elements.map((e: any) => e.text.text));
}

/** A Security Hub CSPM control finding in the new Security Hub's OCSF form: a public S3 bucket. */
describe('the new Security Hub (OCSF, "Findings Imported V2")', () => {
  it('reads a GuardDuty finding into the same model and the same key as GuardDuty and Security Hub CSPM send it', () => {
    const [direct] = parse(fixture('guardduty-backdoor-cc'));
    const [asff] = parse(fixture('securityhub-guardduty'));
    const [ocsf] = parse(fixture('ocsf-guardduty-backdoor-cc'));
    expect(ocsf).toMatchObject({
      format: 'ocsf',
      product: 'GuardDuty',
      type: 'Backdoor:EC2/C&CActivity.B',
      severityLabel: 'HIGH',
      accountId: '123456789012',
      region: 'us-east-1',
      count: 6,
      updatedAt: '2026-11-22T04:20:00.000Z',
      instance: { id: 'i-0c3d4e5f607182930' },
      remote: { ip: '192.0.2.66', port: 443, country: 'Netherlands', organization: 'Example Transit' },
      localPort: 41234,
      // Workflow goes to the new Security Hub, where the finding came from.
      securityHubV2: { cloudAccountUid: '123456789012', findingInfoUid: direct.securityHub!.id, metadataProductUid: 'arn:aws:securityhub:us-east-1::productv2/aws/guardduty' },
    });
    expect(ocsf.securityHub).toBeUndefined();
    expect(ocsf.key).toBe(direct.key);
    expect(asff.key).toBe(direct.key);
    // Should the uid be GuardDuty's bare finding id rather than its ARN, account and region still tie it.
    const bare = fixture('ocsf-guardduty-backdoor-cc');
    bare.detail.findings[0].finding_info.uid = '2bc3d4e5f60718293a4b5c6d7e8f9012';
    expect(parse(bare)[0].key).toBe(direct.key);
    expect(ocsf.notes).toBeUndefined();
  });

  it('reads a control finding: severity, class, account/region, the bucket with its console link; only a hunt on the bucket is offered', () => {
    const [f] = parse(fixture('ocsf-securityhub-control-s3'));
    expect(f).toMatchObject({ format: 'ocsf', product: 'Security Hub', severityLabel: 'CRITICAL', accountId: '123456789012', region: 'eu-west-1', title: 'S3 general purpose buckets should block public access' });
    expect(f.resources).toEqual([
      expect.objectContaining({ kind: 's3-bucket', id: 'arn:aws:s3:::example-public-assets', consoleUrl: 'https://eu-west-1.console.aws.amazon.com/s3/buckets/example-public-assets?region=eu-west-1' }),
    ]);
    const view = renderCard([f], { storm: false, listLimit: 5 });
    expect(blockKitProblems(view.blocks)).toEqual([]);
    expect(mrkdwnTexts(view.blocks).join('\n')).toContain('*S3 bucket* `arn:aws:s3:::example-public-assets`');
    expect(buttonsOf(view.blocks)).toEqual(['Hunt']);
    expect(suggestedHunts(f)).toEqual(['/ir hunt bucket-calls bucket=example-public-assets']);
    const modal = huntModal(f, { channel: 'C01ALERTS' }) as any;
    expect(modal.blocks.find((b: any) => b.block_id === 'bucket').element.initial_value).toBe('example-public-assets');
    expect(modal.blocks.find((b: any) => b.block_id === 'template').element.initial_option.value).toBe('bucket-calls');
  });

  it('refuses an OCSF event without finding_info.uid, saying so', () => {
    const e = fixture('ocsf-securityhub-control-s3');
    delete e.detail.findings[0].finding_info.uid;
    const parsed = parseEvents(e, 10) as any;
    expect(parsed.findings).toEqual([]);
    expect(parsed.rejected).toEqual([{ where: 'event.detail.findings[0].finding_info.uid', reason: expect.stringContaining('finding_info.uid') }]);
  });
});

describe('console links', () => {
  it('are built only from AWS partitions and regions, and stay on the console host', () => {
    expect(resourceConsoleUrl('ec2-instance', 'i-0a1b2c3d4e5f60718', 'eu-west-1', 'aws')).toBe('https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#InstanceDetails:instanceId=i-0a1b2c3d4e5f60718');
    expect(resourceConsoleUrl('lambda-function', 'arn:aws-cn:lambda:cn-north-1:123456789012:function:f1', 'cn-north-1', 'aws-cn')).toBe('https://console.amazonaws.cn/lambda/home?region=cn-north-1#/functions/f1');
    expect(resourceConsoleUrl('iam-role', 'arn:aws-us-gov:iam::123456789012:role/r', 'us-gov-west-1', 'aws-us-gov')).toBe('https://console.amazonaws-us-gov.com/iam/home#/roles/details/r');
    // A region or partition not in AWS's form gives no link at all.
    for (const region of ['evil.example', 'us-east-1.evil.example', 'us-east-1@evil.example', 'US-EAST-1', 'us-east-1/..']) {
      expect(resourceConsoleUrl('ec2-instance', 'i-0a1b2c3d4e5f60718', region, 'aws')).toBeUndefined();
    }
    expect(resourceConsoleUrl('ec2-instance', 'i-0a1b2c3d4e5f60718', 'us-east-1', 'aws-evil')).toBeUndefined();
    // Ids are checked by kind and encoded: nothing can leave the path.
    expect(resourceConsoleUrl('ec2-instance', 'i-0a1b2c3d4e5f60718#@evil.example', 'us-east-1', 'aws')).toBeUndefined();
    expect(resourceConsoleUrl('cloudtrail-trail', 'arn:aws:cloudtrail:us-east-1:123456789012:trail/t?x=<y>', 'us-east-1', 'aws')).toBe(
      'https://us-east-1.console.aws.amazon.com/cloudtrail/home?region=us-east-1#/trails/arn%3Aaws%3Acloudtrail%3Aus-east-1%3A123456789012%3Atrail%2Ft%3Fx%3D%3Cy%3E',
    );
    expect(isConsoleHost('us-east-1.console.aws.amazon.com.evil.example')).toBe(false);
    expect(consoleLink('aws', 'us-east-1', '@evil.example/x')).toBe('https://us-east-1.console.aws.amazon.com/@evil.example/x');
    // The finding's own link falls back to the global console when its region is odd.
    expect(guardDutyConsoleUrl('aws', 'nowhere<!here>', 'abc')).toBe('https://console.aws.amazon.com/guardduty/home#/findings');
  });
});

describe('GuardDuty attack sequences (Extended Threat Detection)', () => {
  it('one card names every resource and every signal, with the responses for each resource', () => {
    const [f] = parse(fixture('guardduty-attack-sequence'));
    const view = renderCard([f], { storm: false, listLimit: 5 });
    expect(blockKitProblems(view.blocks)).toEqual([]);
    const text = mrkdwnTexts(view.blocks).join('\n');
    for (const id of ['i-0a1b2c3d4e5f60718', 'i-0fffffffffffffff1', 'arn:aws:iam::123456789012:role/web-app-role', 'arn:aws:s3:::example-customer-data']) expect(text).toContain(id);
    for (const s of ['CryptoCurrency:EC2/BitcoinTool.B!DNS', 'UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS', 's3:GetObject']) expect(text).toContain(s);
    expect(text).toContain('Attack sequence: 3 signals');
    // Finding text in these sections is never auto-linked by Slack.
    const sections = (view.blocks as any[]).filter((b) => /^\*(Affected resources|Attack sequence)/.test(b.text?.text ?? ''));
    expect(sections.map((b) => b.text.verbatim)).toEqual([true, true]);
    expect(text).toContain('`AssumedRole web-app-role, key ASIAEXAMPLE7QRSTUVWX`');
    expect(text).toContain('`198.51.100.9:443 · Netherlands, Example Hosting`');
    // The sequence's description is attacker-influenced text.
    expect(text).toContain('&lt;!channel&gt;');
    expect(buttonsOf(view.blocks)).toEqual([
      'Isolate i-0a1b2c3d4e5f60718',
      'Snapshot i-0a1b2c3d4e5f60718',
      'Capture memory i-0a1b2c3d4e5f60718',
      'Isolate i-0fffffffffffffff1',
      'Snapshot i-0fffffffffffffff1',
      'Capture memory i-0fffffffffffffff1',
      'Deny all arn:aws:iam::123456789012:role/web-app-role',
      'Revoke sessions arn:aws:iam::123456789012:role/web-app-role',
      'Hunt',
    ]);
  });
});

describe('odd input is shown with a warning, not refused', () => {
  it('a 9-digit account, a number for a string, a missing resource and an odd product ARN each get a card saying what was odd; only non-findings are refused', () => {
    const gd = fixture('guardduty-crypto-dns');
    gd.detail.accountId = 123456789;
    delete gd.detail.resource;
    const [f] = parse(gd);
    expect(f.notes).toEqual([
      'accountId was a number, not a string',
      'account ID "123456789" is not 12 digits: no response that acts in AWS is offered',
      'no resource object: the affected resource is unknown',
    ]);
    const view = renderCard([f], { storm: false, listLimit: 5 });
    expect(mrkdwnTexts(view.blocks).join('\n')).toContain('⚠ Shown despite odd input: accountId was a number');
    expect(buttonsOf(view.blocks)).toEqual([]);

    const sh = fixture('securityhub-guardduty');
    sh.detail.findings[0].ProductArn = 'arn:aws::securityhub:us-east-1::product/aws/guardduty';
    const [g] = parse(sh);
    expect(g.notes).toEqual(['ProductArn "arn:aws::securityhub:us-east-1::product/aws/guardduty" is not in Security Hub\'s product ARN form']);
    expect(g.key).toBe(parse(fixture('guardduty-backdoor-cc'))[0].key);

    expect((parseEvents({ 'detail-type': 'Security Hub Findings - Imported', detail: { findings: [{ Id: 'only-an-id' }] } }, 10) as any).rejected).toEqual([
      { where: 'event.detail.findings[0]', reason: 'not an ASFF finding: it has an Id but none of ProductArn, AwsAccountId, Title' },
    ]);
    expect((parseEvents({ 'detail-type': 'GuardDuty Finding', detail: { title: 'no id, no type' } }, 10) as any).rejected).toEqual([
      { where: 'event.detail.id', reason: 'required: a GuardDuty finding needs its id' },
      { where: 'event.detail.type', reason: 'required: a GuardDuty finding needs its type' },
    ]);
  });
});

describe('npm run preview with the new event kinds', () => {
  it('previews OCSF, attack-sequence and custom-action events, the latter with the requests it would make', () => {
    const config = 'channels: { default: C01ALERTS }\nsecurityHub: { customActions: { ir-isolate: isolate } }\n';
    for (const name of ['ocsf-guardduty-backdoor-cc', 'guardduty-attack-sequence']) {
      const { ok, output } = preview(JSON.stringify(fixture(name)), config) as any;
      expect(ok).toBe(true);
      expect(output.findings[0].card.blocks[0].type).toBe('header');
    }
    const { ok, output } = preview(JSON.stringify(fixture('securityhub-custom-action')), config) as any;
    expect(ok).toBe(true);
    expect(output.customActions).toEqual([
      { actionName: 'ir-isolate', response: 'isolate', skipped: [], requests: [{ action: 'isolate', target: 'i-0c3d4e5f607182930', findingId: expect.stringContaining('finding/2bc3d4e5'), needsApproval: true }] },
    ]);
  });
});

describe('through POST /aws/events', () => {
  let h: Harness | undefined;
  let aws: FakeAws | undefined;
  tearDownAfterEach(() => ({ h, aws }));

  it('a GuardDuty finding sent directly, via Security Hub CSPM (ASFF) and via the new Security Hub (OCSF) makes one card, kept current', async () => {
    h = await startHarness();
    const keys: string[] = [];
    for (const name of ['guardduty-backdoor-cc', 'securityhub-guardduty', 'ocsf-guardduty-backdoor-cc']) {
      const res = await h.postEvents(fixture(name));
      expect(res.status).toBe(202);
      keys.push(res.body.accepted[0].key);
      // Each arrives after the previous one's card is up, as they would in life.
      await waitFor(() => h!.slack.channelMessages('C02CRIT')[0], 'the card');
    }
    expect(new Set(keys).size).toBe(1);
    const card = h.slack.channelMessages('C02CRIT')[0];
    // The newest version (OCSF, 6 occurrences) is what the card shows.
    await waitFor(() => JSON.stringify(card.blocks).includes('6×'), 'the card updated from the OCSF copy');
    expect(h.slack.channelMessages('C02CRIT')).toHaveLength(1);
    expect(h.slack.callsOf('chat.postMessage')).toHaveLength(1);
  });

  it('a roll-up row refers to an ARN by a short reference (option values allow 150 characters), and choosing it asks for that principal', async () => {
    aws = new FakeAws();
    aws.account = '123456789012';
    aws.roles.set('web-app-role', { policies: new Map() });
    h = await startHarness({ file: { aws: { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 } } });
    for (const [id, instance] of [['5ef60718293a4b5c6d7e8f9012345678', undefined], ['6ef60718293a4b5c6d7e8f9012345678', 'i-0fffffffffffffff1']]) {
      const e = fixture('guardduty-credential-exfiltration');
      e.detail.id = id;
      // Rows group per resource: another instance makes the second row.
      if (instance) e.detail.resource.instanceDetails.instanceId = instance;
      expect((await h.postEvents(e)).status).toBe(202);
    }
    const card = await waitFor(() => h!.slack.channelMessages('C02CRIT').find((m) => textOf(m).includes('2 findings')), 'the roll-up card');
    expect(blockKitProblems(card.blocks as any[])).toEqual([]);
    // More than five responses: a select (an overflow menu holds five).
    const menu = (card.blocks as any[]).find((b) => b.accessory?.action_id === 'ir_finding_menu').accessory;
    const deny = menu.options.find((o: any) => o.text.text.startsWith('Deny all'));
    expect(deny.value).not.toContain('arn:');
    expect(deny.value.length).toBeLessThanOrEqual(150);
    const body = blockActionBody(
      { type: menu.type, action_id: menu.action_id, selected_option: deny },
      { userId: 'U01ANA', channelId: card.channel, messageTs: card.ts, responseUrl: `${h.slack.baseUrl}/respond/menu` },
    );
    expect((await sendToBot(h, body)).status).toBe(200);
    const plan = await waitFor(() => threadReplies(h!, card.channel, card.ts).find((m) => textOf(m).includes('arn:aws:iam::123456789012:role/web-app-role')), 'the deny request in the thread');
    expect(textOf(plan)).toContain('Deny');
  });

  it('an attack sequence posts one card whose buttons act on each of its resources', async () => {
    h = await startHarness();
    const res = await h.postEvents(fixture('guardduty-attack-sequence'));
    expect(res.status).toBe(202);
    const card = await waitFor(() => h!.slack.channelMessages('C02CRIT')[0], 'the card');
    expect(buttonsOf(card.blocks as any[])).toContain('Isolate i-0fffffffffffffff1');
    expect(blockKitProblems(card.blocks as any[])).toEqual([]);
  });

  it('a Security Hub custom action mapped to isolate makes the card and an isolation request per instance, waiting for approval and naming the action', async () => {
    aws = FakeAws.withWebServer('i-0c3d4e5f607182930');
    h = await startHarness({
      file: {
        // Isolation would run at once for a Slack user here; a custom action still needs an approver.
        access: { responders: ['U01ANA'], approvers: ['U02LEAD'], twoPersonRule: true, requireApproval: [] },
        aws: { maxAttempts: 1, jobAttempts: 2, jobBackoffMs: 50 },
        securityHub: { customActions: { 'ir-isolate': 'isolate' } },
      },
    });
    const event = fixture('securityhub-custom-action');
    // A second selected finding about a bucket: nothing to isolate there.
    event.detail.findings.push(ocsfBucketAsAsff());
    const res = await h.postEvents(event);
    expect(res.status).toBe(202);
    expect(res.body.accepted).toHaveLength(2);
    expect(res.body.customActions).toEqual([
      {
        actionName: 'ir-isolate',
        response: 'isolate',
        requests: [{ findingKey: res.body.accepted[0].key, action: 'isolate', target: 'i-0c3d4e5f607182930', id: expect.any(String), status: 'created' }],
        skipped: [{ findingKey: res.body.accepted[1].key, reason: expect.stringContaining('isolate acts on EC2 instances') }],
      },
    ]);
    const card = await waitFor(() => h!.slack.channelMessages('C02CRIT').find((m) => textOf(m).includes('Backdoor:EC2')), 'the instance finding\'s card');
    await waitFor(() => h!.slack.channelMessages('C02CRIT').find((m) => textOf(m).includes('example-public-assets')), 'the bucket finding\'s card');
    const plan = await waitFor(() => threadReplies(h!, card.channel, card.ts).find((m) => textOf(m).includes('ir_approve')), 'the approval card in the card thread');
    expect(textOf(plan)).toContain('securityhub:ir-isolate');
    expect(textOf(plan)).toContain('event 1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901 from account 123456789012');
    expect(aws.callsOf('ModifyNetworkInterfaceAttribute')).toHaveLength(0);

    // The same event again (EventBridge retries) joins the open request; an unmapped action asks nothing.
    const again = await h.postEvents(event);
    expect(again.body.customActions[0].requests[0]).toMatchObject({ status: 'joined', id: res.body.customActions[0].requests[0].id });
    event.detail.actionName = 'Send to ir-bot';
    event.resources = ['arn:aws:securityhub:us-east-1:123456789012:action/custom/send-to-irbot'];
    const unmapped = await h.postEvents(event);
    expect(unmapped.status).toBe(202);
    expect(unmapped.body.customActions).toEqual([{ actionName: 'Send to ir-bot', note: expect.stringContaining('not in securityHub.customActions'), requests: [], skipped: [] }]);
  });
});

/** An S3 control finding in ASFF, as Security Hub CSPM sends it. */
function ocsfBucketAsAsff(): any {
  return {
    SchemaVersion: '2018-10-08',
    Id: 'arn:aws:securityhub:us-east-1:123456789012:security-control/S3.8/finding/5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9',
    ProductArn: 'arn:aws:securityhub:us-east-1::product/aws/securityhub',
    GeneratorId: 'security-control/S3.8',
    AwsAccountId: '123456789012',
    Types: ['Software and Configuration Checks/Industry and Regulatory Standards'],
    CreatedAt: '2026-11-22T04:00:00.000Z',
    UpdatedAt: '2026-11-22T04:00:00.000Z',
    Severity: { Label: 'HIGH', Normalized: 70 },
    Title: 'S3 general purpose buckets should block public access',
    Resources: [{ Type: 'AwsS3Bucket', Id: 'arn:aws:s3:::example-public-assets', Partition: 'aws', Region: 'us-east-1' }],
  };
}
