import { FakeAws } from '../test/support/fake-aws';
import { MINER_SCRIPT_LINES, runInstancesEvent } from '../test/support/scenes';

/**
 * The crypto-mining playbook's scene in one stand-in AWS account: a web server in an Auto Scaling
 * group behind a target group, and ten instances launched from a foreign AMI by one stolen access
 * key, each with a miner in its user data. GuardDuty reports DNS lookups of a mining pool on all.
 */
export const ACCOUNT = '123456789012';
export const WEB_SERVER = 'i-0a1b2c3d4e5f60718';
export const STOLEN_KEY = 'AKIAIOSFODNN7DEMO001';
export const KEY_OWNER = `arn:aws:iam::${ACCOUNT}:user/ci-deploy`;
export const MINERS = Array.from({ length: 10 }, (_, i) => `i-0c0ffee000000000${i}`);
const ATTACKER_IP = '198.51.100.23';

const MINER_USER_DATA = MINER_SCRIPT_LINES.join('\n');

export function buildScene(now = Date.now()): FakeAws {
  const aws = FakeAws.withWebServer(WEB_SERVER, { asg: 'web-asg' });
  // A second healthy target keeps the site up while the first is isolated.
  aws.addWebServer('i-0fffffffffffffff1', { eip: false, secondEni: false, asg: 'web-asg' });
  Object.assign(aws.instances.get(WEB_SERVER)!, {
    imageId: 'ami-0abcdef1234567890',
    launchTime: new Date(now - 40 * 86400_000).toISOString(),
    userData: '#!/bin/bash\nyum install -y nginx\nsystemctl enable --now nginx',
    tags: { Name: 'web-1', 'aws:autoscaling:groupName': 'web-asg' },
  });
  aws.images.set('ami-0abcdef1234567890', { id: 'ami-0abcdef1234567890', name: 'al2023-ami-2023.6', ownerId: '137112412989', alias: 'amazon' });
  aws.images.set('ami-0badc0ffee0000001', { id: 'ami-0badc0ffee0000001', name: 'ubuntu-fast-miner', ownerId: '999988887777' });

  const launched = new Date(now - 2 * 86400_000).toISOString();
  MINERS.forEach((id, i) => {
    aws.addWebServer(id, { eip: false, secondEni: false, targetGroup: false });
    Object.assign(aws.instances.get(id)!, {
      tags: { Name: `batch-worker-${i + 1}` },
      profileArn: undefined,
      imageId: 'ami-0badc0ffee0000001',
      launchTime: launched,
      userData: MINER_USER_DATA,
      publicIp: `203.0.113.${100 + i}`,
    });
  });
  aws.trail.push(runInstancesEvent(MINERS, launched, { accessKeyId: STOLEN_KEY, arn: KEY_OWNER }, { sourceIp: ATTACKER_IP }));
  aws.users.set('ci-deploy', { keys: [{ id: STOLEN_KEY, status: 'Active' }], policies: new Map() });
  aws.queryRunMs = 1500;
  answerHuntsWithTheScene(aws, now);
  return aws;
}

/** Athena answers every hunt with rows that tell the scene's story, shaped to the query's columns. */
function answerHuntsWithTheScene(aws: FakeAws, now: number): void {
  const day = (d: number) => new Date(now - d * 86400_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const lastSql = () => [...aws.queries.values()].at(-1)?.sql ?? '';
  const value = (column: string, row: number): string => {
    const c = column.toLowerCase();
    if (c === 'principal') return row === 0 ? KEY_OWNER : `arn:aws:sts::${ACCOUNT}:assumed-role/web/${WEB_SERVER}`;
    if (c === 'access_key') return row === 0 ? STOLEN_KEY : 'ASIADEMOSESSION00001';
    if (c === 'eventname') return ['RunInstances', 'DescribeInstances', 'CreateKeyPair', 'AuthorizeSecurityGroupIngress'][row % 4];
    if (c === 'errorcode') return row === 3 ? 'UnauthorizedOperation' : '';
    if (c === 'calls' || c === 'records' || c === 'denied' || c === 'packets') return String([41, 17, 6, 3][row % 4]);
    if (c === 'bytes') return String([98_304_112, 1_204_332, 88_120, 4_096][row % 4]);
    if (c === 'first' || c === 'eventtime' || c === 'hour') return day(2 + row * 0.01);
    if (c === 'last') return day(0.1);
    if (c === 'sourceipaddress' || c === 'peer' || c === 'dstaddr') return [ATTACKER_IP, '203.0.113.50', '192.0.2.44', '10.0.1.10'][row % 4];
    if (c === 'useragent') return 'aws-cli/2.13.0 Python/3.11 Linux/5.15';
    if (c === 'dstport') return ['4444', '443', '80', '22'][row % 4];
    if (c === 'protocol') return '6';
    if (c === 'action') return 'ACCEPT';
    if (c === 'instance') return MINERS[row % MINERS.length];
    if (c === 'private_ip') return `10.0.3.${20 + row}`;
    if (c === 'type') return 'c5.4xlarge';
    if (c === 'ami') return 'ami-0badc0ffee0000001';
    if (c === 'awsregion') return 'us-east-1';
    if (c === 'eventsource') return 'ec2.amazonaws.com';
    if (c === 'requestparameters') return '{"instanceType":"c5.4xlarge","minCount":10}';
    return '-';
  };
  Object.defineProperty(aws, 'queryColumns', { get: () => columnsOf(lastSql()), set: () => undefined, configurable: true });
  Object.defineProperty(aws, 'queryRows', {
    get: () => {
      const cols = columnsOf(lastSql());
      const n = /instancesSet/.test(lastSql()) ? MINERS.length : 4;
      return Array.from({ length: n }, (_, r) => cols.map((c) => value(c, r)));
    },
    set: () => undefined,
    configurable: true,
  });
}

/** Output column names of a SELECT: the alias after AS, or the last identifier of the expression. */
function columnsOf(sql: string): string[] {
  const m = /SELECT([\s\S]*?)\bFROM\b/i.exec(sql);
  if (!m) return ['result'];
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of m[1]) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => {
    const alias = /\bAS\s+(\w+)\s*$/i.exec(p.trim());
    if (alias) return alias[1];
    return /(\w+)\s*$/.exec(p.trim())?.[1] ?? 'value';
  });
}

/** The playbook's GuardDuty findings as EventBridge delivers them: the fixture's format, one per instance. */
export function guardDutyFindings(template: any, now = Date.now()): unknown[] {
  // A miner first: the card's story (posted for its first finding) is then a miner's.
  return [...MINERS, WEB_SERVER].map((instanceId, i) => {
    const miner = MINERS.indexOf(instanceId);
    const e = JSON.parse(JSON.stringify(template));
    const d = e.detail;
    const id = `7cc4f1c3a4b2d5e6f708192a3b4c5d${i.toString(16).padStart(2, '0')}`;
    e.id = `demo-event-${i}`;
    e.time = new Date(now).toISOString();
    d.id = id;
    d.arn = d.arn.replace(/finding\/\w+$/, `finding/${id}`);
    d.title = `Bitcoin-related domain name queried by EC2 instance ${instanceId}.`;
    d.description = `EC2 instance ${instanceId} is querying a domain name that is associated with Bitcoin-related activity.`;
    const inst = d.resource.instanceDetails;
    inst.instanceId = instanceId;
    if (instanceId !== WEB_SERVER) {
      inst.imageId = 'ami-0badc0ffee0000001';
      inst.imageDescription = 'ubuntu-fast-miner';
      inst.iamInstanceProfile = null;
      inst.instanceType = 'c5.4xlarge';
      inst.tags = [{ key: 'Name', value: `batch-worker-${miner + 1}` }];
      inst.launchTime = new Date(now - 2 * 86400_000).toISOString();
      for (const ni of inst.networkInterfaces ?? []) {
        ni.networkInterfaceId = `eni-${instanceId.slice(-8)}000000001`;
        ni.publicIp = `203.0.113.${100 + miner}`;
      }
      d.resource.accessKeyDetails = { accessKeyId: STOLEN_KEY, principalId: 'AIDADEMOCIDEPLOY0001', userName: 'ci-deploy', userType: 'IAMUser' };
    }
    d.service.eventFirstSeen = new Date(now - 3600_000).toISOString();
    d.service.eventLastSeen = new Date(now - 60_000).toISOString();
    d.createdAt = new Date(now - 3000_000).toISOString();
    d.updatedAt = new Date(now - 30_000).toISOString();
    return e;
  });
}
