import { BatchUpdateFindingsCommand, type WorkflowStatus } from '@aws-sdk/client-securityhub';
import type { Responder } from '../aws/responder';

export type WorkflowChoice = 'NOTIFIED' | 'RESOLVED' | 'SUPPRESSED';

/** BatchUpdateFindings takes at most 100 findings per call. */
export const BATCH_SIZE = 100;

export interface FindingRef {
  id: string;
  productArn: string;
}

export interface WorkflowResult {
  updated: string[];
  failed: { id: string; reason: string }[];
}

/**
 * Sets the workflow status (optional) and adds a note on findings, in batches of 100; findings
 * Security Hub could not update are reported one by one with its reason.
 */
export async function updateFindings(aws: Responder, refs: FindingRef[], change: { status?: WorkflowChoice; note: string; updatedBy: string }): Promise<WorkflowResult> {
  const out: WorkflowResult = { updated: [], failed: [] };
  for (let i = 0; i < refs.length; i += BATCH_SIZE) {
    const batch = refs.slice(i, i + BATCH_SIZE);
    const res = await aws.send(
      aws.clients.securityHub,
      new BatchUpdateFindingsCommand({
        FindingIdentifiers: batch.map((r) => ({ Id: r.id, ProductArn: r.productArn })),
        Note: { Text: change.note.slice(0, 512), UpdatedBy: change.updatedBy.slice(0, 512) },
        ...(change.status ? { Workflow: { Status: change.status as WorkflowStatus } } : {}),
      }),
    );
    out.updated.push(...(res.ProcessedFindings ?? []).map((f) => f.Id!));
    out.failed.push(...(res.UnprocessedFindings ?? []).map((u) => ({ id: u.FindingIdentifier?.Id ?? '?', reason: `${u.ErrorCode ?? 'error'}: ${u.ErrorMessage ?? ''}`.trim() })));
  }
  return out;
}
