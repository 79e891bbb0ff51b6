import { createHash } from 'node:crypto';
import { HeadObjectCommand, PutObjectTaggingCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeInstanceInformationCommand, GetCommandInvocationCommand, ListCommandsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { awsError, type FakeAws } from '../test/support/fake-aws';

/**
 * The demo's AWS beyond the scene's EC2/IAM/CloudTrail: an SSM agent on every running instance
 * that runs the memory capture document as the real script would, and an S3 that keeps what the
 * "instance" uploads, with the checksum and metadata the presigned URL carried. Nothing here can
 * reach AWS; `sandboxAwsEnv` makes sure no other client can either.
 */
export interface DemoObject {
  bytes: number;
  sha256: string;
  versionId: string;
  metadata: Record<string, string>;
  tags?: Record<string, string>;
}

interface Invocation {
  instanceId: string;
  comment?: string;
  output: string;
}

export function standInSsmAndS3(scene: FakeAws): { objects: Map<string, DemoObject>; commands: { document: string; parameters: Record<string, string[]> }[]; restore(): void } {
  const ssm = mockClient(SSMClient);
  const s3 = mockClient(S3Client);
  const objects = new Map<string, DemoObject>();
  const invocations = new Map<string, Invocation>();
  const images = new Map<string, { sha256: string; bytes: number }>();
  const commands: { document: string; parameters: Record<string, string[]> }[] = [];

  ssm.on(DescribeInstanceInformationCommand).callsFake(async (i) => {
    const ids: string[] = i.Filters?.find((f: { Key: string }) => f.Key === 'InstanceIds')?.Values ?? [];
    return {
      InstanceInformationList: ids
        .filter((id) => scene.instances.get(id)?.state === 'running')
        .map((id) => ({ InstanceId: id, PingStatus: 'Online', PlatformType: 'Linux', PlatformName: 'Amazon Linux', PlatformVersion: '2023' })),
    };
  });
  ssm.on(ListCommandsCommand).callsFake(async (i) => ({
    Commands: [...invocations.entries()].filter(([, v]) => v.instanceId === i.InstanceId).map(([id, v]) => ({ CommandId: id, Comment: v.comment })),
  }));
  ssm.on(SendCommandCommand).callsFake(async (i) => {
    const instanceId = i.InstanceIds[0];
    const p = i.Parameters as Record<string, string[]>;
    commands.push({ document: i.DocumentName, parameters: p });
    if (i.DocumentName !== 'ir-bot-memory-capture') throw awsError('InvalidDocument', `demo: only the ir-bot-memory-capture document exists, not ${i.DocumentName}`);
    const commandId = `demo-cmd-${invocations.size + 1}`;
    const scratch = `${instanceId}/${p.captureId[0]}`;
    let output: string;
    if (p.action[0] === 'capture') {
      // A stand-in image: a few MiB of this instance's "memory".
      const body = createHash('sha512').update(scratch).digest().toString('hex').repeat(20_000);
      const image = { sha256: createHash('sha256').update(body).digest('hex'), bytes: body.length };
      images.set(scratch, image);
      output = `IRBOT stage=capture\nIRBOT captured sha256=${image.sha256} bytes=${image.bytes}\n`;
    } else {
      const image = images.get(scratch);
      if (!image) throw awsError('InvalidParameters', 'demo: nothing captured to upload');
      const url = new URL(p.uploadUrl[0]);
      // Virtual-hosted (bucket.s3.region.amazonaws.com/key) or path style (endpoint/bucket/key).
      const virtual = url.hostname.endsWith('.amazonaws.com') && !url.hostname.startsWith('s3.');
      const key = decodeURIComponent(virtual ? `${url.hostname.split('.')[0]}${url.pathname}` : url.pathname.slice(1));
      // What S3 does with the signed headers: another body's hash or an existing key is refused.
      if (Buffer.from(image.sha256, 'hex').toString('base64') !== p.sha256[0]) throw awsError('BadDigest', 'demo: the body does not match x-amz-checksum-sha256');
      if (objects.has(key)) output = 'IRBOT stage=upload\n412 Precondition Failed\n';
      else {
        const metadata = Object.fromEntries([...url.searchParams].filter(([k]) => k.startsWith('x-amz-meta-')).map(([k, v]) => [k.slice('x-amz-meta-'.length), v]));
        objects.set(key, { ...image, versionId: `demo-v${objects.size + 1}`, metadata });
        output = `IRBOT stage=upload bytes=${image.bytes}\nIRBOT uploaded\n`;
      }
    }
    invocations.set(commandId, { instanceId, comment: i.Comment, output });
    return { Command: { CommandId: commandId } };
  });
  ssm.on(GetCommandInvocationCommand).callsFake(async (i) => {
    const inv = invocations.get(i.CommandId);
    if (!inv) throw awsError('InvocationDoesNotExist');
    return { Status: 'Success', StandardOutputContent: inv.output };
  });
  s3.on(HeadObjectCommand).callsFake(async (i) => {
    const o = objects.get(`${i.Bucket}/${i.Key}`);
    if (!o) throw awsError('NotFound', 'Not Found', 404);
    return { ContentLength: o.bytes, VersionId: o.versionId, Metadata: o.metadata, ...(i.ChecksumMode === 'ENABLED' ? { ChecksumSHA256: Buffer.from(o.sha256, 'hex').toString('base64') } : {}) };
  });
  s3.on(PutObjectTaggingCommand).callsFake(async (i) => {
    const o = objects.get(`${i.Bucket}/${i.Key}`);
    if (!o) throw awsError('NoSuchKey', 'The specified key does not exist.', 404);
    o.tags = Object.fromEntries(i.Tagging.TagSet.map((t: { Key: string; Value: string }) => [t.Key, t.Value]));
    return {};
  });
  return {
    objects,
    commands,
    restore() {
      ssm.restore();
      s3.restore();
    },
  };
}

/** Credentials and endpoint settings the SDK would otherwise take from the machine running the demo. */
const AWS_ENV = ['AWS_PROFILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_ENDPOINT_URL', 'AWS_EC2_METADATA_DISABLED', 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE'];

/**
 * Demo credentials, an endpoint on a loopback port nothing listens on, and no instance metadata:
 * a client without a stand-in fails on this machine instead of acting in whatever account the
 * machine's own credentials open.
 */
export function sandboxAwsEnv(): () => void {
  const saved = new Map(AWS_ENV.map((k) => [k, process.env[k]]));
  for (const k of AWS_ENV) delete process.env[k];
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'AKIADEMODEMODEMODEMO',
    AWS_SECRET_ACCESS_KEY: 'demo-secret-not-a-real-key',
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  });
  return () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
