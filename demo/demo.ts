import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load';
import { createLogger } from '../src/log';
import { Metrics } from '../src/metrics';
import { closeServer, listen, startBot, type Running } from '../src/run/bot';
import { startEmbeddedRedis, type EmbeddedRedis } from '../src/run/embedded-redis';
import { startWorker } from '../src/run/worker';
import type { FakeAws } from '../test/support/fake-aws';
import { SlackApiServer } from '../test/support/slack-api-server';
import { blockActionBody, slackSignature, slashCommandBody, viewSubmissionBody } from '../test/support/slack-signing';
import { buildScene, guardDutyFindings } from './scene';
import { sandboxAwsEnv, standInSsmAndS3 } from './stand-ins';

/** The two people working the incident; their IDs are the demo config's responder and approver. */
export const USERS = [
  { id: 'U01ANA', name: 'Ana', role: 'responder' },
  { id: 'U02LEAD', name: 'Lee', role: 'approver' },
] as const;
export const CHANNELS = [
  { id: 'C01SECOPS', name: 'sec-ops' },
  { id: 'C02CRYPTO', name: 'crypto-alerts' },
];

export interface DemoOptions {
  /** Port of the demo page; 0 = any free port. */
  port?: number;
  logLevel?: string;
  /** Replay the playbook's GuardDuty findings at start (tests may replay them later). */
  replay?: boolean;
}

export interface Demo {
  url: string;
  botUrl: string;
  slack: SlackApiServer;
  aws: FakeAws;
  /** The SSM agents and the evidence bucket: what memory capture ran and what it stored. */
  memory: ReturnType<typeof standInSsmAndS3>;
  replayFindings(): Promise<number>;
  /** Posts EventBridge events to the bot's /aws/events, as the AWS wiring would. */
  ingest(events: unknown[]): Promise<void>;
  stop(): Promise<void>;
}

// Demo-only secrets: the stand-ins check them exactly as Slack and the bot would.
const SIGNING_SECRET = 'demo-signing-secret-not-for-production';
const INGEST_KEY = 'demo-ingest-key-not-for-production';
const HERE = __dirname;
/** The page and the bot take requests from this machine only: the demo's secrets are in this file. */
const LOOPBACK = '127.0.0.1';

/**
 * The real bot and worker, wired to stand-ins for everything outside: a private Redis, a Slack
 * Web API server, an in-memory AWS account (the SDK clients' `send` answered by the scene), and a
 * page that turns clicks and `/ir` commands into signed Slack requests into the bot.
 */
export async function startDemo(opts: DemoOptions = {}): Promise<Demo> {
  const dataDir = mkdtempSync(join(tmpdir(), 'irbot-demo-'));
  let redis: EmbeddedRedis | undefined;
  const slack = new SlackApiServer();
  // Before any client exists: whatever the demo calls, it can never reach a real account.
  const restoreEnv = sandboxAwsEnv();
  const aws = buildScene();
  const memory = standInSsmAndS3(aws);
  const undoAws = () => {
    memory.restore();
    aws.restore();
    restoreEnv();
  };
  const running: Running[] = [];
  try {
    redis = await startEmbeddedRedis({ dataDir });
    await slack.start();
    const config = loadConfig({
      SLACK_BOT_TOKEN: 'xoxb-demo-token',
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_MODE: 'http',
      SLACK_API_URL: slack.url,
      PORT: '0',
      METRICS_PORT: '0',
      REDIS_URL: redis.connectionUrl,
      INGEST_API_KEY: INGEST_KEY,
      IR_CONFIG: join(HERE, 'ir-bot.demo.yaml'),
      LOG_LEVEL: opts.logLevel ?? 'warn',
      AWS_REGION: 'us-east-1',
    });
    const log = createLogger(config.logLevel);
    const metrics = new Metrics(false);
    const bot = await startBot(config, log, metrics, { host: LOOPBACK });
    running.push(bot);
    running.push(await startWorker(config, log, metrics, { serveHttp: false }));
    const botUrl = `http://127.0.0.1:${bot.port}`;

    const ingest = async (events: unknown[]) => {
      const res = await fetch(`${botUrl}/aws/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': INGEST_KEY },
        body: JSON.stringify(events),
      });
      if (res.status !== 202) throw new Error(`the bot refused the findings: ${res.status} ${await res.text()}`);
    };
    const replayFindings = async () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const events = guardDutyFindings(require('../test/fixtures/guardduty-crypto-dns.json'));
      await ingest(events);
      return events.length;
    };

    const ctx: Ctx = { slack, botUrl, triggeredBy: new Map(), commandAnswers: [] };
    const page = createServer((req, res) => {
      handle(req, res, ctx).catch((err: Error) => sendJson(res, 500, { error: err.message }));
    });
    const port = await listen(page, opts.port ?? 0, LOOPBACK);
    if (opts.replay !== false) await replayFindings();

    return {
      url: `http://127.0.0.1:${port}`,
      botUrl,
      slack,
      aws,
      memory,
      replayFindings,
      ingest,
      async stop() {
        await closeServer(page);
        for (const r of running.reverse()) await r.stop();
        await slack.stop();
        undoAws();
        await redis?.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    for (const r of running.reverse()) await r.stop().catch(() => undefined);
    await slack.stop().catch(() => undefined);
    undoAws();
    await redis?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

interface Ctx {
  slack: SlackApiServer;
  botUrl: string;
  /** Each forwarded click gets its own trigger_id, so a modal the bot opens shows to the right person. */
  triggeredBy: Map<string, string>;
  /** What the bot answered in a slash command's acknowledgement, shown to whoever typed it. */
  commandAnswers: { user: string; channel: string; threadTs?: string; text: string; blocks: unknown[]; at: number }[];
}

const STATIC: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
};


async function handle(req: IncomingMessage, res: ServerResponse, ctx: Ctx): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && STATIC[path]) {
    const [file, type] = STATIC[path];
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(readFileSync(join(HERE, 'page', file)));
    return;
  }
  if (req.method === 'GET' && path === '/api/state') return sendJson(res, 200, state(ctx));
  if (req.method === 'GET' && path.startsWith('/api/files/')) {
    const f = ctx.slack.files.get(path.slice('/api/files/'.length));
    if (!f) return sendJson(res, 404, { error: 'no such file' });
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-disposition': `inline; filename="${(f.filename ?? 'file').replace(/[^\w.-]/g, '_')}"` });
    res.end(f.content);
    return;
  }
  if (req.method !== 'POST') return sendJson(res, 404, { error: 'not found' });
  const input = JSON.parse((await readBody(req)) || '{}') as Record<string, any>;
  const user = USERS.find((u) => u.id === input.user);
  if (!user) return sendJson(res, 400, { error: 'unknown user' });
  const responseUrl = `${ctx.slack.baseUrl}/respond/${user.id}/${String(input.channel ?? '')}`;

  if (path === '/api/command') {
    const text = String(input.text ?? '').replace(/^\s*\/ir\b\s*/, '');
    const channel = String(input.channel);
    return forward(res, ctx, slashCommandBody(text, { userId: user.id, channelId: channel, responseUrl }), (answer) => {
      // What the bot puts in its acknowledgement is shown to the person who typed the command.
      const a = answer as { text?: string; blocks?: unknown[] } | undefined;
      if (a?.text || a?.blocks) ctx.commandAnswers.push({ user: user.id, channel, text: String(a.text ?? ''), blocks: parseBlocks(a.blocks), at: Date.now() });
    });
  }
  if (path === '/api/action') {
    const action: Record<string, unknown> = { type: input.type, action_id: input.actionId, block_id: input.blockId, text: { type: 'plain_text', text: String(input.label ?? '') } };
    if (input.type === 'overflow' || input.type === 'static_select') action.selected_option = { text: { type: 'plain_text', text: String(input.label ?? '') }, value: input.value };
    else action.value = input.value;
    const body = blockActionBody(action, { userId: user.id, channelId: String(input.channel), messageTs: String(input.ts), threadTs: input.threadTs ? String(input.threadTs) : undefined, responseUrl });
    const payload = JSON.parse(new URLSearchParams(body).get('payload')!);
    payload.trigger_id = `${ctx.triggeredBy.size + 1}.${Date.now()}.demo`;
    payload.user.username = user.name.toLowerCase();
    ctx.triggeredBy.set(payload.trigger_id, user.id);
    return forward(res, ctx, new URLSearchParams({ payload: JSON.stringify(payload) }).toString());
  }
  if (path === '/api/submit') {
    const opened = ctx.slack.callsOf('views.open').find((c) => c.args.trigger_id === input.trigger);
    if (!opened) return sendJson(res, 400, { error: 'no such modal' });
    const view = (typeof opened.args.view === 'string' ? JSON.parse(opened.args.view) : opened.args.view) as { callback_id: string; private_metadata?: string; blocks: any[] };
    const values: Record<string, Record<string, unknown>> = {};
    for (const b of view.blocks.filter((x) => x.type === 'input')) {
      const v = (input.values ?? {})[b.block_id];
      values[b.block_id] = {
        [b.element.action_id]: b.element.type === 'static_select' ? { type: 'static_select', selected_option: v ? { value: String(v) } : null } : { type: 'plain_text_input', value: v ? String(v) : null },
      };
    }
    return forward(res, ctx, viewSubmissionBody(view, values, { userId: user.id }));
  }
  return sendJson(res, 404, { error: 'not found' });
}

/** Signs the body as Slack does and posts it to the bot's /slack/events; hands back the bot's answer. */
async function forward(res: ServerResponse, ctx: Ctx, body: string, onAnswer?: (answer: unknown) => void): Promise<void> {
  const r = await fetch(`${ctx.botUrl}/slack/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...slackSignature(SIGNING_SECRET, body) },
    body,
  });
  const text = await r.text();
  let answer: unknown = text;
  try {
    answer = text ? JSON.parse(text) : undefined;
  } catch {
    // plain text acknowledgement
  }
  if (r.status === 200) onAnswer?.(answer);
  sendJson(res, 200, { status: r.status, answer });
}

/** What a Slack client would show: messages with their threads, files, and each person's private notes and modals. */
function state({ slack, triggeredBy, commandAnswers }: Ctx) {
  const messages = [...slack.messages.values()]
    .sort((a, b) => Number(a.ts) - Number(b.ts))
    .map((m) => ({ channel: m.channel, ts: m.ts, threadTs: m.thread_ts, broadcast: m.reply_broadcast === true, text: m.text, blocks: m.blocks, edited: m.updates > 0 }));
  const files = [...slack.files.entries()]
    .filter(([, f]) => f.channel)
    .map(([id, f]) => ({ id, name: f.filename, channel: f.channel, threadTs: f.thread_ts, bytes: f.content.length }));
  const ephemeral = [
    ...slack.callsOf('chat.postEphemeral').map((c) => ({ user: String(c.args.user), channel: String(c.args.channel), threadTs: c.args.thread_ts ? String(c.args.thread_ts) : undefined, text: String(c.args.text ?? ''), blocks: parseBlocks(c.args.blocks), at: c.at })),
    ...slack.responses.map((r) => {
      const [, , user, channel] = r.path.split('/');
      return { user, channel, threadTs: undefined, text: String(r.body.text ?? ''), blocks: parseBlocks(r.body.blocks), at: 0 };
    }),
    ...commandAnswers,
  ];
  const modals = slack.callsOf('views.open').map((c) => ({
    trigger: String(c.args.trigger_id),
    user: triggeredBy.get(String(c.args.trigger_id)),
    view: typeof c.args.view === 'string' ? JSON.parse(c.args.view) : c.args.view,
  }));
  return { users: USERS, channels: CHANNELS, messages, files, ephemeral, modals };
}

function parseBlocks(b: unknown): unknown[] {
  if (typeof b === 'string') {
    try {
      return JSON.parse(b) as unknown[];
    } catch {
      return [];
    }
  }
  return Array.isArray(b) ? b : [];
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 100_000) req.destroy(new Error('too large'));
      else chunks.push(c);
    });
    req.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
    req.on('error', fail);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
