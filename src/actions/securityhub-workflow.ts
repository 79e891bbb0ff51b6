import { BatchUpdateFindingsCommand, BatchUpdateFindingsV2Command, type WorkflowStatus } from '@aws-sdk/client-securityhub';
import type { OcsfFindingRef } from '../findings/model';
import { classifyAwsError } from '../aws/errors';
import type { Responder } from '../aws/responder';

export type WorkflowChoice = 'NOTIFIED' | 'RESOLVED' | 'SUPPRESSED';

/** BatchUpdateFindings and BatchUpdateFindingsV2 take at most 100 findings per call. */
export const BATCH_SIZE = 100;

/** Security Hub CSPM (ASFF) names a finding by id and product; the new Security Hub (OCSF) by three uids. */
export type FindingRef = { id: string; productArn: string } | OcsfFindingRef;

/**
 * OCSF `status_id` for the CSPM workflow choices: 2 In Progress (someone was told, as NOTIFIED
 * means), 3 Suppressed, 4 Resolved.
 */
const OCSF_STATUS_ID: Record<WorkflowChoice, number> = { NOTIFIED: 2, SUPPRESSED: 3, RESOLVED: 4 };

export interface WorkflowResult {
  updated: string[];
  failed: { id: string; reason: string }[];
}

function idOf(r: FindingRef): string {
  return 'id' in r ? r.id : r.findingInfoUid;
}

/**
 * Sets the workflow status (optional) and adds a note (a comment in OCSF) on findings, in batches
 * of 100, each through the API of the Security Hub it came from. Findings Security Hub could not
 * update are reported one by one with its reason; a whole batch it refuses (say, CSPM is not
 * enabled in that account) is reported as not updated rather than retried for ever.
 */
export async function updateFindings(aws: Responder, refs: FindingRef[], change: { status?: WorkflowChoice; note: string; updatedBy: string }): Promise<WorkflowResult> {
  const out: WorkflowResult = { updated: [], failed: [] };
  const asff = refs.filter((r): r is { id: string; productArn: string } => 'id' in r);
  const ocsf = refs.filter((r): r is OcsfFindingRef => !('id' in r));
  const batches = <T>(list: T[]) => Array.from({ length: Math.ceil(list.length / BATCH_SIZE) }, (_, i) => list.slice(i * BATCH_SIZE, (i + 1) * BATCH_SIZE));
  const refused = async (batch: FindingRef[], call: () => Promise<void>) => {
    try {
      await call();
    } catch (err) {
      // A refusal a retry would meet again (Security Hub off in that account, no permission, bad input).
      const e = classifyAwsError(err, 'securityhub:BatchUpdateFindings');
      if (e.retryable) throw err;
      out.failed.push(...batch.map((r) => ({ id: idOf(r), reason: e.message })));
    }
  };
  for (const batch of batches(asff)) {
    await refused(batch, async () => {
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
    });
  }
  for (const batch of batches(ocsf)) {
    await refused(batch, async () => {
      const res = await aws.send(
        aws.clients.securityHub,
        new BatchUpdateFindingsV2Command({
          FindingIdentifiers: batch.map((r) => ({ CloudAccountUid: r.cloudAccountUid, FindingInfoUid: r.findingInfoUid, MetadataProductUid: r.metadataProductUid })),
          // OCSF has no "updated by": the comment says who.
          Comment: `${change.note} (${change.updatedBy})`.slice(0, 512),
          ...(change.status ? { StatusId: OCSF_STATUS_ID[change.status] } : {}),
        }),
      );
      out.updated.push(...(res.ProcessedFindings ?? []).map((f) => f.FindingIdentifier?.FindingInfoUid ?? f.MetadataUid ?? '?'));
      out.failed.push(
        ...(res.UnprocessedFindings ?? []).map((u) => ({ id: u.FindingIdentifier?.FindingInfoUid ?? u.MetadataUid ?? '?', reason: `${u.ErrorCode ?? 'error'}: ${u.ErrorMessage ?? ''}`.trim() })),
      );
    });
  }
  return out;
}
