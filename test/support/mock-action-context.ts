import type { ActionContext } from '../../src/actions/types';
import { Responder } from '../../src/aws/responder';
import { fileSchema } from '../../src/config/schema';
import { MemoryRecords, testClients } from './action-context';

export { MemoryRecords };

/**
 * An action context over real SDK clients (mock them with aws-sdk-client-mock) with static
 * credentials, so presigned URLs can be built; sleeps are instant and progress is recorded.
 */
export function actionContext(over: Partial<ActionContext> & { file?: Record<string, unknown> } = {}): ActionContext & { progressLog: string[]; records: MemoryRecords } {
  const clients = testClients();
  const config = fileSchema.parse({ channels: { default: 'C01ALERTS' }, ...(over.file ?? {}) });
  const progressLog: string[] = [];
  const rest: Partial<ActionContext> & { file?: unknown } = { ...over };
  delete rest.file;
  return {
    aws: new Responder(clients, '111122223333', 'us-east-1', async () => undefined),
    requestId: 'memory-i-0a1b2c3d4e5f60718-1',
    requestedBy: 'U01ANA',
    startedAt: Date.parse('2026-12-01T07:00:00Z'),
    planRevision: 1,
    caseId: 'case-7cc4f1c3',
    isolation: config.isolation,
    snapshot: config.snapshot,
    stop: config.stop,
    iam: config.iam,
    athena: config.athena,
    hunts: config.hunts,
    memory: config.memory,
    blastRadius: config.blastRadius,
    serialize: (_name, fn) => fn(),
    sleep: async () => undefined,
    now: () => new Date('2026-12-01T07:00:00Z'),
    progress: async (step, total, label) => {
      progressLog.push(`${step}/${total} ${label}`);
    },
    ...rest,
    records: (rest.records as MemoryRecords | undefined) ?? new MemoryRecords(),
    progressLog,
  };
}
