import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Statement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}
export interface Policy {
  Statement: Statement[];
}

export const shippedPolicy = (): Policy => JSON.parse(readFileSync(join(__dirname, '../../iam/ir-bot-policy.json'), 'utf8')) as Policy;
export const shippedReasons = (): Record<string, string> => JSON.parse(readFileSync(join(__dirname, '../../iam/ir-bot-policy.reasons.json'), 'utf8')) as Record<string, string>;

export const actions = (s: Statement): string[] => [s.Action].flat();
export const resources = (s: Statement): string[] => [s.Resource].flat();
export const isRead = (a: string): boolean => /:(Describe|Get|List|Lookup)/.test(a);

/** Writes a policy allows on Resource "*". */
export function writesOnStar(policy: Policy): string[] {
  return policy.Statement.filter((s) => s.Effect === 'Allow' && resources(s).includes('*'))
    .flatMap(actions)
    .filter((a) => !isRead(a));
}

/** Writes on "*" with no reason recorded in iam/ir-bot-policy.reasons.json: must be none. */
export function unjustifiedWritesOnStar(policy: Policy, reasons: Record<string, string> = shippedReasons()): string[] {
  return writesOnStar(policy).filter((a) => !reasons[a]?.trim());
}
