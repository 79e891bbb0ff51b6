import type { Logger } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Finding } from '../../findings/model';
import type { BotDeps } from '../deps';
import { QUEUE_DOWN } from './reply';
import { submitRequest } from './submit';

/** One request holds at most this many instances (the `/ir` commands' limit too). */
const MAX_PER_REQUEST = 50;

export interface BulkInput {
  action: 'isolate' | 'release' | 'snapshot' | 'stop' | 'memory';
  instanceIds: string[];
  /** Findings already at hand (a roll-up's card); others are looked up per instance. */
  findings?: Finding[];
  channel: string;
  threadTs?: string;
  userId: string;
  reason?: string;
}

/**
 * A response over several instances: one request (one plan, one approval) per account and region,
 * since each runs under that account's credentials and mutation budget. Instances without a
 * finding go with the first instance's account and region (or, with none known, where the worker's
 * own account and region resolve them).
 */
export async function submitPerAccount(deps: BotDeps, client: WebClient, logger: Logger, input: BulkInput, opts: Parameters<typeof submitRequest>[4]): Promise<string | undefined> {
  const groups = new Map<string, { ids: string[]; findingKey?: string }>();
  try {
    const ids = [...new Set(input.instanceIds)];
    const found = await Promise.all(ids.map(async (id) => input.findings?.find((x) => x.instance?.id === id) ?? (await deps.requests.instanceFinding(id))));
    // Instances no finding names (a story's siblings) go with the first one's account and region.
    const first = found.find(Boolean);
    const fallback = first ? `${first.accountId}/${first.region}` : '';
    for (const [i, id] of ids.entries()) {
      const f = found[i];
      const where = f ? `${f.accountId}/${f.region}` : fallback;
      const g = groups.get(where) ?? { ids: [], findingKey: undefined };
      g.findingKey ??= f?.key;
      g.ids.push(id);
      groups.set(where, g);
    }
  } catch (err) {
    logger.error(`could not read the instances' findings: ${(err as Error).message}`);
    return QUEUE_DOWN;
  }
  const replies: string[] = [];
  for (const g of groups.values()) {
    for (let i = 0; i < g.ids.length; i += MAX_PER_REQUEST) {
      const ids = g.ids.slice(i, i + MAX_PER_REQUEST);
      const reply = await submitRequest(
        deps,
        client,
        logger,
        { action: input.action, target: ids[0], targets: ids, findingKey: i === 0 ? g.findingKey : undefined, channel: input.channel, threadTs: input.threadTs, userId: input.userId, reason: input.reason },
        opts,
      );
      if (reply) replies.push(reply);
    }
  }
  return replies.length ? replies.join('\n') : undefined;
}
