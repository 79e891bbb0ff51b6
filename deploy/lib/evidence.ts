import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PolicyDocument } from './policy';

/** The SSM document memory capture runs (memory.ssmDocument's default); the bot's policy allows SendCommand with it only. */
export const MEMORY_DOCUMENT_NAME = 'ir-bot-memory-capture';

/** The buckets a deployed document's URLs may point at; unset: no URL at all. */
export interface DocumentBuckets {
  toolsBucket?: string;
  evidenceBucket?: string;
}

/**
 * A presigned URL of this bucket only: virtual-hosted or path-style (the SDK's form for a name with
 * dots), any region, either partition's domain. The region is one DNS label, so a look-alike bucket
 * named "<bucket>.s3.<region>" cannot pass; no dot segment or percent-encoding in the path, so
 * "<bucket>/../<other bucket>" cannot either.
 */
export function bucketUrlPattern(bucket: string | undefined): string {
  if (!bucket) return '^$';
  const b = bucket.replaceAll('.', '\\.');
  const s3 = '[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?';
  // No path segment may start with a dot and the path holds no %: curl and Invoke-WebRequest
  // resolve "/<bucket>/../other-bucket/x" to another bucket; the query keeps % for the signature.
  const path = '(/[A-Za-z0-9_~+=-][A-Za-z0-9._~+=-]*)+';
  const query = '(\\?[A-Za-z0-9._~%&=+-]*)?';
  return `^(https://(${b}\\.s3\\.${s3}|s3\\.${s3}/${b})${path}${query})?$`;
}

/**
 * deploy/ssm/memory-capture.json: a fixed script that takes URLs, sizes and a directory as
 * parameters only. Deployed, its URLs may point only at this deployment's tools and evidence
 * buckets: the script runs what toolUrl serves as root and sends memory to uploadUrl, so with any
 * https URL allowed, whoever holds the responder role's credentials could run their own binary on
 * every instance, or take its memory, through "our document only".
 */
export function memoryDocument(buckets?: DocumentBuckets): Record<string, unknown> {
  const doc = JSON.parse(readFileSync(join(__dirname, '../ssm/memory-capture.json'), 'utf8')) as { parameters: Record<string, { allowedPattern?: string }> };
  if (buckets) {
    doc.parameters.toolUrl.allowedPattern = bucketUrlPattern(buckets.toolsBucket);
    doc.parameters.uploadUrl.allowedPattern = bucketUrlPattern(buckets.evidenceBucket);
  }
  return doc;
}

/** CloudFormation for the document, in whichever account and region it is deployed to. */
export function memoryDocumentResource(buckets: DocumentBuckets): Record<string, unknown> {
  // A fixed name keeps the policy's resource ARN stable; NewVersion lets an update change the content.
  return { Type: 'AWS::SSM::Document', Properties: { Name: MEMORY_DOCUMENT_NAME, DocumentType: 'Command', DocumentFormat: 'JSON', UpdateMethod: 'NewVersion', Content: memoryDocument(buckets) } };
}

export interface EvidenceBucketNames {
  bucket: string;
  /** memory.prefix: the images' key prefix, ending in / (or empty). */
  prefix: string;
  /** The bot's own role (it captures in its own account). */
  botRoleArn: string;
  /** The organization whose member accounts' ir-responder roles capture; unset = the bot's account only. */
  organizationId?: string;
}

/**
 * The evidence bucket's policy. A member account's ir-responder role presigns the upload, reads
 * the object's checksum back and tags it; S3 lets another account's role do that only when both
 * its own policy and this bucket policy allow it. Every upload must be conditional (If-None-Match),
 * so nobody, the bot included, can overwrite an image; nobody may delete one through this policy.
 */
export function evidenceBucketPolicy(n: EvidenceBucketNames): PolicyDocument {
  const bucket = `arn:aws:s3:::${n.bucket}`;
  const objects = `${bucket}/${n.prefix}*`;
  const responders = n.organizationId
    ? [
        {
          Sid: 'MemberResponderRolesWriteImages',
          Effect: 'Allow' as const,
          Principal: { AWS: '*' },
          Action: ['s3:PutObject', 's3:GetObject', 's3:PutObjectTagging'],
          Resource: objects,
          Condition: { StringEquals: { 'aws:PrincipalOrgID': n.organizationId }, ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/ir-responder' } },
        },
      ]
    : [];
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'BotRoleWritesImages', Effect: 'Allow', Principal: { AWS: n.botRoleArn }, Action: ['s3:PutObject', 's3:GetObject', 's3:PutObjectTagging'], Resource: objects },
      ...responders,
      { Sid: 'NoOverwrite', Effect: 'Deny', Principal: { AWS: '*' }, Action: ['s3:PutObject'], Resource: objects, Condition: { Null: { 's3:if-none-match': 'true' } } },
      { Sid: 'TlsOnly', Effect: 'Deny', Principal: { AWS: '*' }, Action: ['s3:*'], Resource: [bucket, `${bucket}/*`], Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
    ],
  };
}
