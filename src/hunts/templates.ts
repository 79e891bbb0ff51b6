import type { Config } from '../config/load';
import { nameOf } from '../findings/console';
import type { Finding } from '../findings/model';
import { checkParam, literal, ParamError, type ParamSpec } from './params';

/**
 * The playbook's Athena queries. Every value from a user or a finding is a `?` placeholder bound
 * through ExecutionParameters; the SQL text holds only our own words and identifiers from config
 * (checked against a strict pattern at start-up). Every query filters the partition column on the
 * window, so a hunt scans days, not the whole bucket.
 */
export interface HuntTemplate {
  name: string;
  title: string;
  table: 'cloudtrail' | 'vpcflow';
  params: ParamSpec[];
  /** SQL with `{table}` and `{window}` markers and `?` placeholders, in `bind` order. */
  sql: string;
  /** Parameter names in placeholder order (a name may repeat). */
  bind: string[];
}

const PRINCIPAL: ParamSpec = { name: 'principal', type: 'arn', description: 'IAM user or role ARN' };
const INSTANCE: ParamSpec = { name: 'instance', type: 'instance', description: 'EC2 instance id' };
const IP: ParamSpec = { name: 'ip', type: 'ip', description: 'IPv4 or IPv6 address' };
const BUCKET: ParamSpec = { name: 'bucket', type: 'bucket', description: 'S3 bucket name' };

export const TEMPLATES: HuntTemplate[] = [
  {
    name: 'ec2-calls',
    title: 'EC2 API calls that mention an instance, by principal, event and error',
    table: 'cloudtrail',
    params: [INSTANCE],
    sql: `SELECT useridentity.arn AS principal, eventname, errorcode, count(*) AS calls, min(eventtime) AS first, max(eventtime) AS last
FROM {table} WHERE {window} AND eventsource = 'ec2.amazonaws.com'
  AND (strpos(requestparameters, ?) > 0 OR strpos(responseelements, ?) > 0)
GROUP BY 1, 2, 3 ORDER BY calls DESC`,
    bind: ['instance', 'instance'],
  },
  {
    name: 'sg-changes',
    title: 'Security-group changes',
    table: 'cloudtrail',
    params: [],
    sql: `SELECT eventtime, useridentity.arn AS principal, eventname, sourceipaddress, errorcode, requestparameters
FROM {table} WHERE {window} AND eventname LIKE '%SecurityGroup%' AND eventname NOT LIKE 'Describe%'
ORDER BY eventtime DESC`,
    bind: [],
  },
  {
    name: 'principal-calls',
    title: 'All API calls by a principal, by region, service, event and error',
    table: 'cloudtrail',
    params: [PRINCIPAL],
    sql: `SELECT awsregion, eventsource, eventname, errorcode, count(*) AS calls
FROM {table} WHERE {window} AND useridentity.arn = ?
GROUP BY 1, 2, 3, 4 ORDER BY calls DESC`,
    bind: ['principal'],
  },
  {
    name: 'principal-sources',
    title: 'Source IPs and user agents used by a principal',
    table: 'cloudtrail',
    params: [PRINCIPAL],
    sql: `SELECT sourceipaddress, useragent, count(*) AS calls, min(eventtime) AS first, max(eventtime) AS last
FROM {table} WHERE {window} AND useridentity.arn = ?
GROUP BY 1, 2 ORDER BY calls DESC`,
    bind: ['principal'],
  },
  {
    name: 'ip-principals',
    title: 'Principals that used a source IP',
    table: 'cloudtrail',
    params: [IP],
    sql: `SELECT useridentity.arn AS principal, useridentity.accesskeyid AS access_key, count(*) AS calls, min(eventtime) AS first, max(eventtime) AS last
FROM {table} WHERE {window} AND sourceipaddress = ?
GROUP BY 1, 2 ORDER BY calls DESC`,
    bind: ['ip'],
  },
  {
    name: 'principal-keys',
    title: 'Access key ids used by a principal',
    table: 'cloudtrail',
    params: [PRINCIPAL],
    sql: `SELECT useridentity.accesskeyid AS access_key, count(*) AS calls, min(eventtime) AS first, max(eventtime) AS last
FROM {table} WHERE {window} AND useridentity.arn = ? AND useridentity.accesskeyid IS NOT NULL
GROUP BY 1 ORDER BY calls DESC`,
    bind: ['principal'],
  },
  {
    name: 'principal-launches',
    title: 'Instances launched by a principal',
    table: 'cloudtrail',
    params: [PRINCIPAL],
    sql: `SELECT eventtime, json_extract_scalar(item, '$.instanceId') AS instance, json_extract_scalar(item, '$.privateIpAddress') AS private_ip,
  json_extract_scalar(item, '$.instanceType') AS type, json_extract_scalar(item, '$.imageId') AS ami, awsregion
FROM {table} CROSS JOIN UNNEST(CAST(json_extract(responseelements, '$.instancesSet.items') AS array(json))) AS t(item)
WHERE {window} AND eventname = 'RunInstances' AND useridentity.arn = ?
ORDER BY eventtime DESC`,
    bind: ['principal'],
  },
  {
    name: 'flows',
    title: "VPC Flow Logs for an instance's private IP: peers, ports, bytes, accept/reject",
    table: 'vpcflow',
    params: [IP],
    sql: `SELECT CASE WHEN srcaddr = ? THEN dstaddr ELSE srcaddr END AS peer, dstport, protocol, action,
  sum(bytes) AS bytes, sum(packets) AS packets, count(*) AS records
FROM {table} WHERE {window} AND (srcaddr = ? OR dstaddr = ?)
GROUP BY 1, 2, 3, 4 ORDER BY bytes DESC`,
    bind: ['ip', 'ip', 'ip'],
  },
  {
    name: 'egress',
    title: 'Egress from a private IP to public addresses, ranked by bytes',
    table: 'vpcflow',
    params: [IP],
    sql: `SELECT dstaddr, dstport, sum(bytes) AS bytes, sum(packets) AS packets, count(*) AS records
FROM {table} WHERE {window} AND srcaddr = ? AND action = 'ACCEPT'
  AND NOT regexp_like(dstaddr, '^(10\\.|172\\.(1[6-9]|2[0-9]|3[01])\\.|192\\.168\\.|127\\.|169\\.254\\.|fc|fd|fe80)')
GROUP BY 1, 2 ORDER BY bytes DESC`,
    bind: ['ip'],
  },
  {
    name: 'access-denied',
    title: 'Access-denied bursts by principal and hour',
    table: 'cloudtrail',
    params: [],
    sql: `SELECT date_trunc('hour', from_iso8601_timestamp(eventtime)) AS hour, useridentity.arn AS principal, count(*) AS denied
FROM {table} WHERE {window} AND errorcode IN ('AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'Client.UnauthorizedOperation')
GROUP BY 1, 2 HAVING count(*) >= 5 ORDER BY denied DESC`,
    bind: [],
  },
  {
    name: 'iam-creations',
    title: 'IAM user, role, key and login-profile creations',
    table: 'cloudtrail',
    params: [],
    sql: `SELECT eventtime, useridentity.arn AS principal, eventname, sourceipaddress, errorcode, requestparameters
FROM {table} WHERE {window} AND eventsource = 'iam.amazonaws.com'
  AND eventname IN ('CreateUser', 'CreateRole', 'CreateAccessKey', 'CreateLoginProfile', 'AttachUserPolicy', 'PutUserPolicy')
ORDER BY eventtime DESC`,
    bind: [],
  },
  {
    name: 'bucket-calls',
    title: 'API calls on an S3 bucket (management and data events), by principal, source IP, event and error',
    table: 'cloudtrail',
    params: [BUCKET],
    sql: `SELECT useridentity.arn AS principal, sourceipaddress, eventname, errorcode, count(*) AS calls, min(eventtime) AS first, max(eventtime) AS last
FROM {table} WHERE {window} AND eventsource = 's3.amazonaws.com' AND json_extract_scalar(requestparameters, '$.bucketName') = ?
GROUP BY 1, 2, 3, 4 ORDER BY calls DESC`,
    bind: ['bucket'],
  },
];

export interface PreparedHunt {
  template: HuntTemplate;
  /** SQL text with `?` placeholders only. */
  sql: string;
  /** ExecutionParameters, in placeholder order, each a quoted SQL literal. */
  parameters: string[];
  window: { from: string; to: string };
  values: Record<string, string>;
}

const IDENT = /^[a-z0-9_]{1,255}$/;

/** Validates the user's input for a template and builds the query. Throws ParamError with a clear reason. */
export function prepareHunt(name: string, input: Record<string, string>, athena: NonNullable<Config['athena']>, now = new Date()): PreparedHunt {
  const template = TEMPLATES.find((t) => t.name === name);
  if (!template) throw new ParamError(`unknown hunt "${name.slice(0, 40)}". \`/ir hunt\` lists them.`);
  const known = new Set([...template.params.map((p) => p.name), 'days', 'from', 'to']);
  for (const k of Object.keys(input)) if (!known.has(k)) throw new ParamError(`${name} takes no parameter "${k.slice(0, 30)}" (it takes ${[...known].join(', ')})`);
  const values: Record<string, string> = {};
  for (const p of template.params) {
    if (input[p.name] === undefined) {
      if (p.optional) continue;
      throw new ParamError(`${name} needs ${p.name}=<${p.description}>`);
    }
    values[p.name] = checkParam(p, input[p.name]);
  }
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const to = input.to ? checkParam({ name: 'to', type: 'date', description: '' }, input.to) : day(now);
  const days = input.days ? Number(checkParam({ name: 'days', type: 'days', description: '' }, input.days)) : 7;
  const from = input.from ? checkParam({ name: 'from', type: 'date', description: '' }, input.from) : day(new Date(Date.parse(`${to}T00:00:00Z`) - (days - 1) * 86_400_000));
  if (from > to) throw new ParamError(`from (${from}) is after to (${to})`);
  if (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`) > 89 * 86_400_000) throw new ParamError('the window is at most 90 days');

  const table = athena.tables[template.table];
  const partition = athena.partitionColumns?.[template.table] ?? 'timestamp';
  if (!IDENT.test(athena.database) || !IDENT.test(table) || !IDENT.test(partition)) throw new ParamError('athena database, table or partition column in the config is not a plain identifier');
  // Partitions are yyyy/MM/dd strings (CloudTrail's and the VPC Flow Logs' Hive layout).
  const windowSql = `"${partition}" BETWEEN ? AND ?`;
  const sql = template.sql.replace('{table}', `"${athena.database}"."${table}"`).replace('{window}', windowSql);
  const parameters = [literal(from.replace(/-/g, '/')), literal(to.replace(/-/g, '/')), ...template.bind.map((b) => literal(values[b]))];
  return { template, sql, parameters, window: { from, to }, values };
}

/** `/ir hunt` alone: the templates and their parameters. */
export function huntHelp(): string {
  return [
    '*Hunts* (`/ir hunt <name> key=value…`; every hunt also takes `days=1…90` (default 7) or `from=`/`to=` as YYYY-MM-DD):',
    ...TEMPLATES.map((t) => `• \`${t.name}\`${t.params.map((p) => ` ${p.name}=<${p.description}>`).join('')}: ${t.title}`),
  ].join('\n');
}

/** A hunt request's target: `template key=value …` (keys sorted), so equal hunts join each other. */
export function huntTarget(template: string, params: Record<string, string>): string {
  return [template, ...Object.keys(params).sort().map((k) => `${k}=${params[k]}`)].join(' ');
}

export function parseHuntTarget(target: string): { template: string; params: Record<string, string> } {
  const [template, ...pairs] = target.split(' ');
  return { template, params: Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)])) };
}

/** What a finding gives to hunt on: its instance, an IP (the instance's own, else the remote one), a principal, a bucket. */
export function huntPrefill(f: Pick<Finding, 'instance' | 'principal' | 'remote' | 'resources'>): { instance?: string; ip?: string; principal?: string; bucket?: string } {
  const iam = f.resources?.find((r) => (r.kind === 'iam-user' || r.kind === 'iam-role') && r.id.startsWith('arn:'));
  const bucket = f.resources?.filter((r) => r.kind === 's3-bucket').map((r) => nameOf(r.id)).find((b) => /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(b));
  const out = { instance: f.instance?.id, ip: f.instance?.privateIps[0] ?? f.remote?.ip, principal: f.principal?.arn ?? iam?.id, bucket };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

/** Ready-to-run hunts for what a finding names (the card's Hunt button). */
export function suggestedHunts(f: Pick<Finding, 'instance' | 'principal' | 'remote' | 'resources'>): string[] {
  const p = huntPrefill(f);
  const out: string[] = [];
  if (p.instance) out.push(`/ir hunt ec2-calls instance=${p.instance}`);
  if (f.instance?.privateIps[0]) out.push(`/ir hunt flows ip=${f.instance.privateIps[0]}`, `/ir hunt egress ip=${f.instance.privateIps[0]}`);
  if (p.principal) out.push(`/ir hunt principal-calls principal=${p.principal}`, `/ir hunt principal-launches principal=${p.principal}`);
  if (f.remote?.ip) out.push(`/ir hunt ip-principals ip=${f.remote.ip}`);
  if (p.bucket) out.push(`/ir hunt bucket-calls bucket=${p.bucket}`);
  return out;
}

/** Where a Cancel click leaves word for the running hunt job (records store). */
export const huntCancelRecord = (requestId: string) => `hunt-cancel:${requestId}`;
