import { isIP } from 'node:net';

/**
 * Hunt parameters, validated by type against strict allow-lists. Athena substitutes execution
 * parameters into the SQL as literal text, so a string parameter must arrive already quoted: the
 * allow-list (no quote, no backslash, no whitespace in anything but dates) is what makes that safe,
 * and quoting doubles any quote anyway.
 */
export type ParamType = 'instance' | 'ip' | 'arn' | 'accessKey' | 'bucket' | 'date' | 'days';

export interface ParamSpec {
  name: string;
  type: ParamType;
  description: string;
  optional?: boolean;
}

export class ParamError extends Error {}

const CHECKS: Record<ParamType, { test: (v: string) => boolean; want: string }> = {
  instance: { test: (v) => /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/.test(v), want: 'an EC2 instance id (i- and 8 or 17 hex digits)' },
  ip: { test: (v) => v.length <= 45 && isIP(v) !== 0, want: 'an IPv4 or IPv6 address' },
  arn: { test: (v) => /^arn:aws[a-z-]*:(iam|sts)::\d{12}:(user|role|assumed-role|root)(\/[\w+=,.@/-]{1,400})?$/.test(v), want: 'an IAM user, role or assumed-role ARN' },
  accessKey: { test: (v) => /^(AKIA|ASIA)[A-Z0-9]{16}$/.test(v), want: 'an access key id (AKIA… or ASIA…, 20 characters)' },
  bucket: { test: (v) => /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v) && !v.includes('..'), want: 'an S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)' },
  date: { test: (v) => /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`)) && new Date(`${v}T00:00:00Z`).toISOString().startsWith(v), want: 'a date as YYYY-MM-DD' },
  days: { test: (v) => /^\d{1,2}$/.test(v) && Number(v) >= 1 && Number(v) <= 90, want: 'a number of days from 1 to 90' },
};

export function checkParam(spec: ParamSpec, raw: string): string {
  const v = raw.trim();
  if (v.length > 512) throw new ParamError(`${spec.name}: too long (${v.length} characters)`);
  if (!CHECKS[spec.type].test(v)) throw new ParamError(`${spec.name}: "${v.slice(0, 60).replace(/[^\x20-\x7e]/g, '?')}" is not ${CHECKS[spec.type].want}`);
  return v;
}

/** A validated value as the SQL literal Athena will paste in. */
export function literal(v: string): string {
  return `'${v.replace(/'/g, "''")}'`;
}
