/**
 * AWS failures sorted by what a responder (and the retry policy) should do about them. The
 * message always names the IAM action, so a denied call says which permission is missing.
 */
export type AwsFailureKind = 'access-denied' | 'throttled' | 'not-found' | 'transient' | 'expired' | 'invalid';

const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'UnauthorizedAccess', 'AuthFailure']);
const THROTTLED = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException', 'RequestThrottled', 'SlowDown']);
/** The temporary credentials (or the request's signature time) are past their expiry. */
const EXPIRED = new Set(['ExpiredToken', 'ExpiredTokenException', 'RequestExpired']);
const TRANSIENT = new Set(['InternalError', 'InternalFailure', 'ServiceUnavailable', 'Unavailable', 'RequestTimeout', 'RequestTimeoutException']);

/** Socket-level failures: the request never reached AWS, or its answer never came back. */
const NETWORK = new Set(['ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ENETUNREACH', 'EHOSTUNREACH']);

export class AwsCallError extends Error {
  constructor(
    readonly kind: AwsFailureKind,
    readonly iamAction: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AwsCallError';
  }

  get retryable(): boolean {
    // Expired credentials: the next attempt gets a new session.
    return this.kind === 'throttled' || this.kind === 'transient' || this.kind === 'expired';
  }
}

export function awsErrorCode(err: unknown): string {
  const e = err as { name?: string; Code?: string; code?: string };
  return e?.Code ?? e?.name ?? e?.code ?? 'Error';
}

export function classifyAwsError(err: unknown, iamAction: string): AwsCallError {
  if (err instanceof AwsCallError) return err;
  const code = awsErrorCode(err);
  const raw = ((err as Error)?.message ?? String(err)).split('Encoded authorization failure message')[0].trim();
  const net = (err as { code?: string })?.code;
  if (ACCESS_DENIED.has(code)) {
    return new AwsCallError('access-denied', iamAction, code, `AccessDenied: the bot's role may not call ${iamAction} (${code}). Add ${iamAction} to its IAM policy (see docs/security-model.md, "IAM").`);
  }
  if (EXPIRED.has(code)) return new AwsCallError('expired', iamAction, code, `${iamAction}: AWS rejected the bot's credentials as expired (${code})`);
  if (THROTTLED.has(code)) return new AwsCallError('throttled', iamAction, code, `AWS throttled ${iamAction} (${code})`);
  if (/NotFound$/.test(code) || code.endsWith('.NotFound') || code.endsWith('.Malformed') || code === 'NoSuchEntity' || code === 'NoSuchEntityException') {
    return new AwsCallError('not-found', iamAction, code, `${iamAction}: ${code}: ${raw}`);
  }
  if (net && NETWORK.has(net)) {
    // Name the endpoint: a wrong AWS_ENDPOINT_URL, a proxy or no route out reads differently from an AWS outage.
    const host = (err as { hostname?: string; address?: string }).hostname ?? (err as { address?: string }).address;
    return new AwsCallError('transient', iamAction, net, `${iamAction}: cannot reach AWS${host ? ` at ${host}` : ''} (${net})`);
  }
  const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  if (TRANSIENT.has(code) || (status !== undefined && status >= 500) || code === 'TimeoutError') {
    return new AwsCallError('transient', iamAction, code, `${iamAction} failed transiently (${code})`);
  }
  return new AwsCallError('invalid', iamAction, code, `${iamAction} failed: ${code}: ${raw}`);
}
