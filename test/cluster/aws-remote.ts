/**
 * One AWS account for several worker processes: the FakeAws stand-in lives in the test process
 * and answers over loopback HTTP; each worker child sends every SDK command (client, command name
 * and input) there instead of to AWS. So three workers act on one account, with FakeAws's strict
 * EC2 semantics (a duplicate group, a rule already revoked) between them, and a killed worker
 * leaves exactly what "AWS" applied.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as athena from '@aws-sdk/client-athena';
import * as autoScaling from '@aws-sdk/client-auto-scaling';
import * as cloudTrail from '@aws-sdk/client-cloudtrail';
import * as ec2 from '@aws-sdk/client-ec2';
import * as elbv2 from '@aws-sdk/client-elastic-load-balancing-v2';
import * as iam from '@aws-sdk/client-iam';
import * as kms from '@aws-sdk/client-kms';
import * as s3 from '@aws-sdk/client-s3';
import * as securityHub from '@aws-sdk/client-securityhub';
import * as ssm from '@aws-sdk/client-ssm';
import * as sts from '@aws-sdk/client-sts';
import type { FakeAws } from '../support/fake-aws';

type SdkModule = Record<string, any>;
/** The clients FakeAws answers (its mocks); SSM and S3 calls get an error instead of going out. */
const MODELLED = new Set(['AthenaClient', 'AutoScalingClient', 'CloudTrailClient', 'EC2Client', 'ElasticLoadBalancingV2Client', 'IAMClient', 'KMSClient', 'SecurityHubClient', 'STSClient']);
/** Every client the worker builds, by class name, with the module holding its commands. */
const SDKS: Record<string, SdkModule> = {
  AthenaClient: athena,
  AutoScalingClient: autoScaling,
  CloudTrailClient: cloudTrail,
  EC2Client: ec2,
  ElasticLoadBalancingV2Client: elbv2,
  IAMClient: iam,
  KMSClient: kms,
  S3Client: s3,
  SecurityHubClient: securityHub,
  SSMClient: ssm,
  STSClient: sts,
};

/** JSON that keeps the SDK's Dates and byte arrays. */
function encode(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v) {
    const raw = this[key];
    if (raw instanceof Date) return { $date: raw.toISOString() };
    if (raw instanceof Uint8Array) return { $bytes: Buffer.from(raw).toString('base64') };
    return v;
  });
}

function decode(text: string): any {
  return JSON.parse(text, (_k, v) => {
    if (v && typeof v === 'object' && typeof v.$date === 'string') return new Date(v.$date);
    if (v && typeof v === 'object' && typeof v.$bytes === 'string') return new Uint8Array(Buffer.from(v.$bytes, 'base64'));
    return v;
  });
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export interface AwsServer {
  url: string;
  /** Every call answered, by API name (`GetFindings`, `ModifyNetworkInterfaceAttribute`, …). */
  calls: { api: string; at: number }[];
  stop(): Promise<void>;
}

/**
 * Serves `aws` (whose mocks are installed in this process) on loopback. `answer` may answer an
 * API the stand-in does not model (return undefined to let FakeAws answer).
 */
export async function serveAws(_aws: FakeAws, answer?: (api: string, input: any) => unknown): Promise<AwsServer> {
  const clients = new Map<string, { send(c: unknown): Promise<unknown> }>();
  const calls: AwsServer['calls'] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      let out: unknown;
      try {
        const call = decode(await body(req)) as { client: string; command: string; input: unknown };
        const api = call.command.replace(/Command$/, '');
        calls.push({ api, at: Date.now() });
        const own = answer?.(api, call.input);
        if (own !== undefined) out = { output: own };
        else {
          const mod = SDKS[call.client];
          if (!mod || !MODELLED.has(call.client)) throw Object.assign(new Error(`the AWS stand-in does not model ${call.client}`), { name: 'UnknownOperationException' });
          let client = clients.get(call.client);
          if (!client) {
            client = new mod[call.client]({ region: 'us-east-1', credentials: { accessKeyId: 'AKIATEST', secretAccessKey: 'test' }, maxAttempts: 1 }) as { send(c: unknown): Promise<unknown> };
            clients.set(call.client, client);
          }
          out = { output: (await client.send(new mod[call.command](call.input))) ?? {} };
        }
      } catch (err) {
        const e = err as Error & { $metadata?: { httpStatusCode?: number }; $fault?: string; code?: string };
        out = { error: { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode ?? 400, fault: e.$fault } };
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(encode(out));
    })();
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    calls,
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/**
 * In a worker child: every SDK client's `send` goes to the test process's stand-in at `url`.
 * Errors come back with the name, message and HTTP status AWS would give, so the worker's error
 * classes (throttled, not found, invalid) see what they would see from AWS.
 */
export function forwardAwsTo(url: string): void {
  for (const [name, mod] of Object.entries(SDKS)) {
    mod[name].prototype.send = async function send(command: { constructor: { name: string }; input: unknown }) {
      const res = await fetch(url, { method: 'POST', body: encode({ client: name, command: command.constructor.name, input: command.input }) });
      const answer = decode(await res.text()) as { output?: unknown; error?: { name: string; message: string; status: number; fault?: string } };
      if (answer.error) {
        const { name: code, message, status, fault } = answer.error;
        throw Object.assign(new Error(message), { name: code, $fault: fault ?? (status >= 500 ? 'server' : 'client'), $metadata: { httpStatusCode: status } });
      }
      return answer.output;
    };
  }
}
