import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { stubServer } from './stub-http';
import { blockKitViolations } from './slack-limits';

/** Blocks arrive as JSON in form posts and as arrays in JSON posts. */
function parseBlocks(blocks: unknown): unknown[] {
  if (typeof blocks === 'string') return JSON.parse(blocks) as unknown[];
  return Array.isArray(blocks) ? blocks : [];
}

export interface SlackCall {
  method: string;
  args: Record<string, unknown>;
  at: number;
  /** What we answered. */
  status: number;
}

export interface SlackMessage {
  channel: string;
  ts: string;
  text: string;
  blocks: unknown[];
  thread_ts?: string;
  /** A thread reply also shown in the channel. */
  reply_broadcast?: boolean;
  updates: number;
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  /** A file share (files.uploadV2) rather than a post. */
  files?: { id: string; name: string }[];
}

export interface SlackApiOptions {
  /** Enforce Slack's ~1 chat.postMessage per second per channel with 429 + Retry-After. */
  postIntervalMs?: number;
  /** Enforce an app-wide chat.update budget per minute with 429s. */
  updatesPerMinute?: number;
  /** Channels whose chat.postMessage fails with this Slack error (e.g. not_in_channel). */
  refusedChannels?: Record<string, string>;
  /** Members of user groups, for usergroups.users.list. */
  userGroups?: Record<string, string[]>;
  /** users.info answers; anyone not listed is a full member of the bot's workspace T0EXAMPLE. */
  /** Methods the workspace forbids apps (conversations.create, conversations.archive…): answered restricted_action. */
  restrictedMethods?: string[];
  users?: Record<string, { team_id?: string; is_restricted?: boolean; is_ultra_restricted?: boolean; enterprise_id?: string; name?: string; real_name?: string; profile?: { display_name?: string } }>;
  /** The WebSocket URL apps.connections.open hands an app-level token (xapp-…): a SlackSocketServer's. */
  socketModeUrl?: string;
}

/**
 * A stand-in for slack.com/api that records what the bot sends and keeps messages, so tests
 * can read the channel the way a person would see it. Point SLACK_API_URL at `url`.
 */
export class SlackApiServer {
  readonly calls: SlackCall[] = [];
  readonly messages = new Map<string, SlackMessage>();
  /** Files uploaded with files.uploadV2: content by file id, with where they were shared (`channel` is set only once the upload is complete). */
  readonly files = new Map<string, { content: string; filename?: string; channel?: string; thread_ts?: string }>();
  /** Calls to response_url (slash-command and action responses). */
  readonly responses: { path: string; body: Record<string, unknown> }[] = [];
  private readonly lastPost = new Map<string, number>();
  private updateTimes: number[] = [];
  private readonly failures = new Map<string, string[]>();
  private readonly lostAnswers = new Map<string, number>();
  /** Channels made with conversations.create (or `addChannel`), with their members and pins, as Slack keeps them. */
  readonly channels = new Map<string, { id: string; name: string; is_private: boolean; creator: string; members: Set<string>; pins: Set<string>; is_archived: boolean }>();
  private outage?: { until: number; status: 429 | 500 };
  private server?: Server;
  private seq = 0;
  url = '';
  baseUrl = '';

  constructor(private opts: SlackApiOptions = {}) {}

  setOptions(opts: SlackApiOptions): void {
    this.opts = opts;
  }

  /** The next calls of `method` fail with these Slack error codes, in order. */
  failNext(method: string, ...errors: string[]): void {
    this.failures.set(method, [...(this.failures.get(method) ?? []), ...errors]);
  }

  /**
   * Called once a call is carried out, before its answer is sent; a returned promise holds the
   * answer back until it settles (the kill test kills the calling worker here).
   */
  beforeAnswer?: (method: string, body: unknown) => Promise<void> | undefined;

  /**
   * The next `times` calls of `method` are carried out but their answers never arrive (the
   * connection is cut), as when a response is lost on the network or the caller times out.
   */
  loseAnswerNext(method: string, times = 1): void {
    this.lostAnswers.set(method, (this.lostAnswers.get(method) ?? 0) + times);
  }

  /**
   * For `ms` from now every chat.* and files.* call is refused as when Slack is overloaded:
   * 429 with Retry-After, or HTTP 500.
   */
  outageFor(ms: number, status: 429 | 500): void {
    this.outage = { until: Date.now() + ms, status };
  }

  /** A channel someone else already made (its name is then taken). */
  addChannel(name: string, creator = 'U0SOMEONE'): string {
    const id = `C${String(++this.seq).padStart(9, '0')}X`;
    this.channels.set(id, { id, name, is_private: false, creator, members: new Set([creator]), pins: new Set(), is_archived: false });
    return id;
  }

  callsOf(method: string): SlackCall[] {
    return this.calls.filter((c) => c.method === method && c.status === 200);
  }

  rateLimited(): SlackCall[] {
    return this.calls.filter((c) => c.status === 429);
  }

  channelMessages(channel: string): SlackMessage[] {
    return [...this.messages.values()].filter((m) => m.channel === channel && !m.thread_ts && !m.files);
  }

  async start(): Promise<void> {
    this.server = stubServer((req, res, raw, path) => {
      const args = parseBody(raw, String(req.headers['content-type'] ?? ''));
      if (path.startsWith('/upload/')) {
        const id = path.slice('/upload/'.length);
        const f = this.files.get(id);
        // Slack's upload URL takes the bytes raw or as one multipart part: keep just the file.
        const multipart = /^--(\S+)\r\n/.exec(raw);
        if (f) f.content = multipart ? raw.slice(raw.indexOf('\r\n\r\n') + 4, raw.lastIndexOf(`\r\n--${multipart[1]}`)) : raw;
        return send(res, 200, { ok: true });
      }
      if (path.startsWith('/respond/')) {
        this.responses.push({ path, body: args });
        return send(res, 200, { ok: true });
      }
      const method = path.replace(/^\/api\//, '');
      const [status, body, headers] = this.handle(method, args, String(req.headers.authorization ?? ''));
      this.calls.push({ method, args, at: Date.now(), status });
      const answer = () => {
        const lose = this.lostAnswers.get(method) ?? 0;
        if (lose > 0) {
          this.lostAnswers.set(method, lose - 1);
          req.socket.destroy();
          return;
        }
        send(res, status, body, headers);
      };
      const hold = this.beforeAnswer?.(method, body);
      if (hold) void hold.then(answer, answer);
      else answer();
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    const { port } = this.server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${port}`;
    this.url = `${this.baseUrl}/api/`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }

  /** conversations.create / invite / archive / list and pins.add, with Slack's errors; undefined for other methods. */
  private conversations(method: string, args: Record<string, unknown>): [number, unknown] | undefined {
    const bot = 'U0BOT';
    const channel = this.channels.get(String(args.channel ?? ''));
    switch (method) {
      case 'conversations.create': {
        const name = String(args.name ?? '');
        const problem = nameProblem(name);
        if (problem) return [200, { ok: false, error: problem }];
        if ([...this.channels.values()].some((c) => c.name === name)) return [200, { ok: false, error: 'name_taken' }];
        const isPrivate = String(args.is_private) === 'true';
        const id = `${isPrivate ? 'G' : 'C'}${String(++this.seq).padStart(9, '0')}N`;
        this.channels.set(id, { id, name, is_private: isPrivate, creator: bot, members: new Set([bot]), pins: new Set(), is_archived: false });
        return [200, { ok: true, channel: { id, name, is_channel: !isPrivate, is_private: isPrivate, creator: bot, is_archived: false } }];
      }
      case 'conversations.invite': {
        if (!channel) return [200, { ok: false, error: 'channel_not_found' }];
        if (channel.is_archived) return [200, { ok: false, error: 'is_archived' }];
        const users = String(args.users ?? '').split(',').filter(Boolean);
        if (users.length === 0) return [200, { ok: false, error: 'no_user' }];
        if (users.includes(bot)) return [200, { ok: false, error: 'cant_invite_self' }];
        if (users.every((u) => channel.members.has(u))) return [200, { ok: false, error: 'already_in_channel' }];
        for (const u of users) channel.members.add(u);
        return [200, { ok: true, channel: { id: channel.id, name: channel.name } }];
      }
      case 'conversations.archive':
        if (!channel) return [200, { ok: false, error: 'channel_not_found' }];
        if (channel.is_archived) return [200, { ok: false, error: 'already_archived' }];
        channel.is_archived = true;
        return [200, { ok: true }];
      case 'conversations.list': {
        const all = [...this.channels.values()].filter((c) => !(String(args.exclude_archived) === 'true' && c.is_archived));
        return [200, { ok: true, channels: all.map((c) => ({ id: c.id, name: c.name, is_private: c.is_private, creator: c.creator, is_archived: c.is_archived })), response_metadata: { next_cursor: '' } }];
      }
      case 'pins.add': {
        const ts = String(args.timestamp ?? '');
        const key = `${String(args.channel)}/${ts}`;
        if (!this.messages.has(key)) return [200, { ok: false, error: 'message_not_found' }];
        if (!channel) return [200, { ok: true }];
        if (channel.pins.has(ts)) return [200, { ok: false, error: 'already_pinned' }];
        channel.pins.add(ts);
        return [200, { ok: true }];
      }
      default:
        return undefined;
    }
  }

  private handle(method: string, args: Record<string, unknown>, auth: string): [number, unknown, Record<string, string>?] {
    // Socket Mode opens its connection with the app-level token, and only that method takes one.
    const appLevel = method === 'apps.connections.open';
    if (!(appLevel ? /^Bearer xapp-/ : /^Bearer xox[bp]-/).test(auth) && method !== 'api.test') return [200, { ok: false, error: appLevel ? 'invalid_auth' : 'not_authed' }];
    if (this.outage && Date.now() < this.outage.until && /^(chat|files)\./.test(method)) {
      return this.outage.status === 429 ? [429, { ok: false, error: 'ratelimited' }, { 'retry-after': '1' }] : [500, { ok: false, error: 'internal_error' }];
    }
    const queued = this.failures.get(method);
    if (queued?.length) {
      const error = queued.shift()!;
      if (error === 'ratelimited') return [429, { ok: false, error: 'ratelimited' }, { 'retry-after': '1' }];
      return [200, { ok: false, error }];
    }
    const now = Date.now();
    if (this.opts.restrictedMethods?.includes(method)) return [200, { ok: false, error: 'restricted_action' }];
    const conversation = this.conversations(method, args);
    if (conversation) return conversation;
    switch (method) {
      case 'apps.connections.open':
        return this.opts.socketModeUrl ? [200, { ok: true, url: this.opts.socketModeUrl }] : [200, { ok: false, error: 'invalid_auth' }];
      case 'auth.test':
        return [200, { ok: true, url: 'https://example.slack.com/', team: 'Example', user: 'ir-bot', team_id: 'T0EXAMPLE', user_id: 'U0BOT', bot_id: 'B0BOT' }];
      case 'chat.postMessage': {
        const channel = String(args.channel);
        if (blockKitViolations(parseBlocks(args.blocks), args.text as string | undefined).length) return [200, { ok: false, error: 'invalid_blocks' }];
        const refused = this.opts.refusedChannels?.[channel];
        if (refused) return [200, { ok: false, error: refused }];
        if (this.opts.postIntervalMs && !args.thread_ts) {
          const last = this.lastPost.get(channel);
          if (last !== undefined && now - last < this.opts.postIntervalMs) {
            const retry = Math.max(1, Math.ceil((this.opts.postIntervalMs - (now - last)) / 1000));
            return [429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(retry) }];
          }
          this.lastPost.set(channel, now);
        }
        const ts = `${Math.floor(now / 1000)}.${String(++this.seq).padStart(6, '0')}`;
        const msg: SlackMessage = {
          channel,
          ts,
          text: String(args.text ?? ''),
          blocks: (args.blocks as unknown[]) ?? [],
          thread_ts: args.thread_ts ? String(args.thread_ts) : undefined,
          reply_broadcast: args.reply_broadcast === true || args.reply_broadcast === 'true' ? true : undefined,
          updates: 0,
          metadata: typeof args.metadata === 'string' ? JSON.parse(args.metadata) : (args.metadata as SlackMessage['metadata']),
        };
        this.messages.set(`${channel}/${ts}`, msg);
        return [200, { ok: true, channel, ts, message: { text: msg.text, ts } }];
      }
      case 'chat.update': {
        if (blockKitViolations(parseBlocks(args.blocks), args.text as string | undefined).length) return [200, { ok: false, error: 'invalid_blocks' }];
        if (this.opts.updatesPerMinute) {
          this.updateTimes = this.updateTimes.filter((t) => now - t < 60_000);
          if (this.updateTimes.length >= this.opts.updatesPerMinute) {
            return [429, { ok: false, error: 'ratelimited' }, { 'retry-after': '1' }];
          }
          this.updateTimes.push(now);
        }
        const key = `${String(args.channel)}/${String(args.ts)}`;
        const msg = this.messages.get(key);
        if (!msg) return [200, { ok: false, error: 'message_not_found' }];
        msg.text = String(args.text ?? msg.text);
        msg.blocks = (args.blocks as unknown[]) ?? msg.blocks;
        msg.updates += 1;
        return [200, { ok: true, channel: msg.channel, ts: msg.ts }];
      }
      case 'conversations.history':
      case 'conversations.replies': {
        const channel = String(args.channel);
        const oldest = Number(args.oldest ?? 0);
        const inThread = method === 'conversations.replies' ? String(args.ts) : undefined;
        const found = [...this.messages.values()]
          .filter((m) => m.channel === channel && Number(m.ts) >= oldest && (inThread ? m.ts === inThread || m.thread_ts === inThread : !m.thread_ts))
          .sort((a, b) => Number(b.ts) - Number(a.ts))
          .map((m) => ({ type: 'message', ts: m.ts, text: m.text, bot_id: 'B0BOT', thread_ts: m.thread_ts, ...(m.files ? { files: m.files } : {}), ...(String(args.include_all_metadata) === 'true' && m.metadata ? { metadata: m.metadata } : {}) }));
        return [200, { ok: true, messages: found, has_more: false }];
      }
      case 'files.getUploadURLExternal': {
        const id = `F${String(++this.seq).padStart(8, '0')}`;
        this.files.set(id, { content: '', filename: String(args.filename ?? '') });
        return [200, { ok: true, upload_url: `${this.baseUrl}/upload/${id}`, file_id: id }];
      }
      case 'files.completeUploadExternal': {
        const list = (typeof args.files === 'string' ? JSON.parse(args.files) : args.files) as { id: string }[];
        for (const { id } of list) {
          const f = this.files.get(id);
          Object.assign(f ?? {}, { channel: args.channel_id, thread_ts: args.thread_ts });
          // Slack shares a file as a message in the channel or thread, which history and replies list.
          const ts = `${Math.floor(now / 1000)}.${String(++this.seq).padStart(6, '0')}`;
          const channel = String(args.channel_id);
          this.messages.set(`${channel}/${ts}`, { channel, ts, text: '', blocks: [], thread_ts: args.thread_ts ? String(args.thread_ts) : undefined, updates: 0, files: [{ id, name: f?.filename ?? '' }] });
        }
        return [200, { ok: true, files: list.map(({ id }) => ({ id })) }];
      }
      case 'usergroups.users.list': {
        const users = this.opts.userGroups?.[String(args.usergroup)];
        return users ? [200, { ok: true, users }] : [200, { ok: false, error: 'no_such_subteam' }];
      }
      case 'users.info': {
        const id = String(args.user);
        const { enterprise_id, ...u } = { team_id: 'T0EXAMPLE', is_restricted: false, is_ultra_restricted: false, ...this.opts.users?.[id] };
        return [200, { ok: true, user: { id, ...u, ...(enterprise_id ? { enterprise_user: { enterprise_id } } : {}) } }];
      }
      case 'chat.postEphemeral':
        return [200, { ok: true, message_ts: `${Math.floor(now / 1000)}.${String(++this.seq).padStart(6, '0')}` }];
      default:
        return [200, { ok: true }];
    }
  }
}

/** Slack's channel-name rule: lower case letters, digits, hyphens and underscores, at most 80. */
function nameProblem(name: string): string | undefined {
  if (!name) return 'invalid_name_required';
  if (name.length > 80) return 'invalid_name_maxlength';
  if (/[^a-z0-9_-]/.test(name)) return /[A-Z]/.test(name) && !/[^a-zA-Z0-9_-]/.test(name) ? 'invalid_name' : 'invalid_name_specials';
  return undefined;
}

function parseBody(raw: string, contentType: string): Record<string, unknown> {
  if (!raw) return {};
  if (contentType.includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    out[k] = (k === 'blocks' || k === 'attachments') && v.startsWith('[') ? JSON.parse(v) : v;
  }
  return out;
}

function send(res: import('node:http').ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(text);
}
