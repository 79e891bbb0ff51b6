import { ErrorCode, type WebClient } from '@slack/web-api';
import type { PostLedger } from './post-ledger';

/** Look back this much before the first attempt: clocks differ between us and Slack. */
const SKEW_MS = 60_000;

export interface EvidenceFile {
  channel: string;
  threadTs?: string;
  filename: string;
  title: string;
  content: string;
}

/** Whether Slack shows a file of this name shared in the thread (or channel) since `sinceMs`. */
async function findShared(slack: WebClient, f: EvidenceFile, sinceMs: number): Promise<boolean> {
  const oldest = ((sinceMs - SKEW_MS) / 1000).toFixed(6);
  const res = f.threadTs
    ? await slack.conversations.replies({ channel: f.channel, ts: f.threadTs, oldest, limit: 200 })
    : await slack.conversations.history({ channel: f.channel, oldest, limit: 200 });
  return (res.messages ?? []).some((m) => (m.files ?? []).some((x) => x.name === f.filename));
}

/**
 * Uploads an evidence file (a hunt's CSV, long user data, a report) once. It is its own step:
 * a failed upload throws so the caller's job retries just this, and, like posts, an attempt whose
 * answer was lost is looked for in Slack before uploading again, so a retry never shares it twice.
 */
export async function uploadOnce(deps: { slack: WebClient; posts: PostLedger }, key: string, f: EvidenceFile): Promise<'uploaded' | 'found'> {
  const mark = `file:${key}`;
  const earlier = await deps.posts.attemptedAt(mark);
  if (earlier !== undefined && (await findShared(deps.slack, f, earlier).catch(() => false))) {
    await deps.posts.done(mark);
    return 'found';
  }
  await deps.posts.begin(mark);
  try {
    const file = { channel_id: f.channel, content: f.content, filename: f.filename, title: f.title };
    await (f.threadTs ? deps.slack.files.uploadV2({ ...file, thread_ts: f.threadTs }) : deps.slack.files.uploadV2(file));
  } catch (err) {
    // Slack answered and refused: nothing was shared, so the retry need not look for it.
    const code = (err as { code?: string }).code;
    if (code === ErrorCode.PlatformError || code === ErrorCode.RateLimitedError) await deps.posts.done(mark);
    throw err;
  }
  await deps.posts.done(mark);
  return 'uploaded';
}
