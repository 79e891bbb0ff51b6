import type { Config } from '../config/load';
import type { Finding } from './model';

export interface RouteDecision {
  channel: string;
  /** Index of the matching route, or 'default'. */
  matched: number | 'default';
}

/** First route whose every condition holds wins; otherwise channels.default. */
export function routeFinding(finding: Pick<Finding, 'severity' | 'type' | 'accountId'>, channels: Config['channels']): RouteDecision {
  const index = channels.routes.findIndex(
    (r) =>
      (r.minSeverity === undefined || finding.severity >= r.minSeverity) &&
      (r.findingTypePrefix === undefined || finding.type.startsWith(r.findingTypePrefix)) &&
      (r.account === undefined || finding.accountId === r.account),
  );
  return index >= 0 ? { channel: channels.routes[index].channel, matched: index } : { channel: channels.default, matched: 'default' };
}
