import { TEMPLATES, huntHelp, prepareHunt } from '../src/hunts/templates';
import { ParamError } from '../src/hunts/params';

const ATHENA = {
  workgroup: 'primary',
  database: 'security_logs',
  outputLocation: 's3://example-athena-results/ir-bot/',
  tables: { cloudtrail: 'cloudtrail_logs', vpcflow: 'vpc_flow_logs' },
  partitionColumns: { cloudtrail: 'timestamp', vpcflow: 'day' },
};
const NOW = new Date('2026-11-22T12:00:00Z');
const VALID: Record<string, string> = {
  instance: 'i-0a1b2c3d4e5f60718',
  ip: '10.0.1.10',
  principal: 'arn:aws:iam::123456789012:user/ci-deploy',
  bucket: 'example-customer-data',
};

function validInput(name: string): Record<string, string> {
  const t = TEMPLATES.find((x) => x.name === name)!;
  return Object.fromEntries(t.params.map((p) => [p.name, VALID[p.name]]));
}

describe('hunt templates: parameters are validated and bound, never pasted into SQL', () => {
  it('has the playbook templates', () => {
    expect(TEMPLATES.map((t) => t.name)).toEqual([
      'ec2-calls', 'sg-changes', 'principal-calls', 'principal-sources', 'ip-principals', 'principal-keys',
      'principal-launches', 'flows', 'egress', 'access-denied', 'iam-creations', 'bucket-calls',
    ]);
  });

  it.each(TEMPLATES.map((t) => t.name))('%s: SQL has placeholders only, a partition predicate on the window, and quoted literal parameters', (name) => {
    const h = prepareHunt(name, validInput(name), ATHENA, NOW);
    for (const v of Object.values(h.values)) expect(h.sql).not.toContain(v);
    expect(h.sql.split('?').length - 1).toBe(h.parameters.length);
    expect(h.sql).toMatch(/"(timestamp|day)" BETWEEN \? AND \?/);
    expect(h.sql).toContain(`"security_logs"."${h.template.table === 'cloudtrail' ? 'cloudtrail_logs' : 'vpc_flow_logs'}"`);
    for (const p of h.parameters) expect(p).toMatch(/^'[^']*'$/);
    expect(h.parameters.slice(0, 2)).toEqual(["'2026/11/16'", "'2026/11/22'"]);
  });

  const HOSTILE = [
    "' OR 1=1 --",
    "i-0a1b2c3d4e5f60718' OR '1'='1",
    'i-0a1b2c3d4e5f60718 --',
    'i-0a1b2c3d4e5f60718/* */',
    'ｉ-0a1b2c3d4e5f60718',
    'i-0A1B2C3D4E5F60718',
    `i-${'0'.repeat(600)}`,
    'i-0a1b2c3d4e5f60718\nUNION SELECT 1',
    '10.0.0.1; DROP TABLE x',
    '10.0.0.1\u0000',
    "arn:aws:iam::123456789012:user/x' OR 1=1 --",
    'arn:aws:iam::123456789012:user/ci deploy',
    '',
  ];

  it.each(HOSTILE)('rejects %j for every parameter type, naming the parameter', (bad) => {
    for (const name of ['ec2-calls', 'flows', 'principal-calls', 'bucket-calls']) {
      const t = TEMPLATES.find((x) => x.name === name)!;
      const p = t.params[0];
      expect(() => prepareHunt(name, { [p.name]: bad }, ATHENA, NOW)).toThrow(ParamError);
      expect(() => prepareHunt(name, { [p.name]: bad }, ATHENA, NOW)).toThrow(new RegExp(`^${p.name}: `));
    }
  });

  it('quotes by doubling, should a quote ever pass a check', () => {
    // The allow-lists refuse quotes; the literal builder still doubles them.
    const h = prepareHunt('principal-calls', { principal: 'arn:aws:iam::123456789012:user/o.brien' }, ATHENA, NOW);
    expect(h.parameters[2]).toBe("'arn:aws:iam::123456789012:user/o.brien'");
  });

  it('takes a window of 1 to 90 days, or from/to dates, and explains what is wrong', () => {
    expect(prepareHunt('sg-changes', { days: '30' }, ATHENA, NOW).window).toEqual({ from: '2026-10-24', to: '2026-11-22' });
    expect(prepareHunt('sg-changes', { from: '2026-11-01', to: '2026-11-03' }, ATHENA, NOW).parameters).toEqual(["'2026/11/01'", "'2026/11/03'"]);
    expect(() => prepareHunt('sg-changes', { days: '91' }, ATHENA, NOW)).toThrow('days: "91" is not a number of days from 1 to 90');
    expect(() => prepareHunt('sg-changes', { from: '2026-02-30' }, ATHENA, NOW)).toThrow('from: "2026-02-30" is not a date as YYYY-MM-DD');
    expect(() => prepareHunt('sg-changes', { from: '2026-11-10', to: '2026-11-01' }, ATHENA, NOW)).toThrow('from (2026-11-10) is after to (2026-11-01)');
    expect(() => prepareHunt('sg-changes', { from: '2026-01-01', to: '2026-11-01' }, ATHENA, NOW)).toThrow('at most 90 days');
  });

  it('refuses unknown templates, unknown and missing parameters', () => {
    expect(() => prepareHunt('drop-tables', {}, ATHENA, NOW)).toThrow('unknown hunt "drop-tables"');
    expect(() => prepareHunt('ec2-calls', { instance: VALID.instance, sql: 'x' }, ATHENA, NOW)).toThrow('ec2-calls takes no parameter "sql"');
    expect(() => prepareHunt('ec2-calls', {}, ATHENA, NOW)).toThrow('ec2-calls needs instance=<EC2 instance id>');
  });

  it('lists every template with its parameters', () => {
    const text = huntHelp();
    for (const t of TEMPLATES) expect(text).toContain(`\`${t.name}\``);
    expect(text).toContain('`flows` ip=<IPv4 or IPv6 address>');
  });
});
