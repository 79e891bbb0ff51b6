import type { Finding } from '../findings/model';
import { csvRow } from '../csv';
import { groupByResource, resourceOf } from './card';

/**
 * Every finding of a roll-up, one row each, as a CSV file for its thread: what the card cannot
 * show within Slack's 50 blocks is still findable (Slack indexes file text) and sortable.
 * Rows come per resource, most severe first, as on the card.
 */
export function findingListCsv(findings: Finding[]): string {
  const rows = [csvRow(['finding_id', 'type', 'severity', 'resource', 'account', 'region', 'count', 'last_seen', 'console'])];
  for (const group of groupByResource(findings)) {
    for (const f of group) {
      rows.push(csvRow([f.id, f.type, `${f.severityLabel} ${f.severity.toFixed(1)}`, resourceOf(f).replace(/^finding:.*/, ''), f.accountId, f.region, String(f.count), f.lastSeen, f.consoleUrl]));
    }
  }
  return `${rows.join('\n')}\n`;
}

/** The file's title in the thread: what it is and how many rows. */
export function findingListTitle(findings: Finding[]): string {
  const resources = groupByResource(findings).length;
  return `All ${findings.length} findings of this roll-up on ${resources} resources, one row each (id, type, severity, resource, count, last seen, console link)`;
}
