import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { stubServer } from './stub-http';

export interface JiraIssue {
  key: string;
  project: string;
  issueType: string;
  summary: string;
  labels: string[];
  status: string;
  comments: string[];
}

/** Plain text of an Atlassian Document Format body. */
function adfText(doc: any): string {
  return (doc?.content ?? []).map((p: any) => (p.content ?? []).map((t: any) => t.text ?? '').join('')).join('\n\n');
}

/**
 * A stand-in for Jira Cloud's REST v3 (the calls ir-bot makes), answering as Jira does: 201 with
 * {id,key,self} on create, 400 with errorMessages/errors, 401 without basic auth, 404 for an
 * unknown issue; and on demand 429 with Retry-After, 5xx, or a cut connection.
 */
export class JiraServer {
  readonly issues = new Map<string, JiraIssue>();
  readonly calls: { method: string; path: string; status: number }[] = [];
  private readonly failures: { status: number; retryAfter?: number }[] = [];
  private lose = 0;
  private server?: Server;
  private seq = 0;
  url = '';

  constructor(private readonly opts: { projects: string[]; issueTypes?: string[]; email: string; token: string }) {}

  /** The next calls are answered with these statuses (429 carries Retry-After: 1). */
  failNext(...statuses: number[]): void {
    for (const status of statuses) this.failures.push({ status, retryAfter: status === 429 ? 1 : undefined });
  }

  /** Called once a call is carried out, before its answer is sent; a returned promise holds the answer back until it settles. */
  beforeAnswer?: (method: string, path: string, status: number) => Promise<void> | undefined;

  /** The next `n` calls are carried out but their answers never arrive. */
  loseAnswerNext(n = 1): void {
    this.lose += n;
  }

  async start(): Promise<void> {
    this.server = stubServer((req, res, raw, path) => {
      const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
        this.calls.push({ method: req.method ?? '', path, status });
        const answer = () => reply(status, body, headers);
        const hold = this.beforeAnswer?.(req.method ?? '', path, status);
        if (hold) return void hold.then(answer, answer);
        answer();
      };
      const reply = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
        if (this.lose > 0 && status < 300) {
          this.lose -= 1;
          req.socket.destroy();
          return;
        }
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(body === undefined ? '' : JSON.stringify(body));
      };
      const failure = this.failures.shift();
      if (failure) return send(failure.status, { errorMessages: [failure.status === 429 ? 'Rate limit exceeded.' : 'Internal server error'] }, failure.retryAfter ? { 'retry-after': String(failure.retryAfter) } : {});
      const want = `Basic ${Buffer.from(`${this.opts.email}:${this.opts.token}`).toString('base64')}`;
      if (req.headers.authorization !== want) return send(401, { errorMessages: ['You are not authenticated. Authentication required to perform this operation.'], errors: {} });
      const body = raw ? JSON.parse(raw) : {};
      if (req.method === 'POST' && path === '/rest/api/3/issue') {
        const f = body.fields ?? {};
        const errors: Record<string, string> = {};
        if (!this.opts.projects.includes(f.project?.key)) errors.project = 'valid project is required';
        if (!(this.opts.issueTypes ?? ['Task']).includes(f.issuetype?.name)) errors.issuetype = 'Specify a valid issue type';
        if (!f.summary) errors.summary = 'You must specify a summary of the issue.';
        if (Object.keys(errors).length) return send(400, { errorMessages: [], errors });
        const key = `${f.project.key}-${++this.seq}`;
        this.issues.set(key, { key, project: f.project.key, issueType: f.issuetype.name, summary: f.summary, labels: f.labels ?? [], status: 'To Do', comments: [] });
        return send(201, { id: String(10000 + this.seq), key, self: `${this.url}/rest/api/3/issue/${10000 + this.seq}` });
      }
      if (req.method === 'POST' && path === '/rest/api/3/search/jql') {
        const label = /labels = "([^"]+)"/.exec(String(body.jql ?? ''))?.[1];
        const issues = [...this.issues.values()].filter((i) => label && i.labels.includes(label)).map((i) => ({ id: i.key, key: i.key, fields: { summary: i.summary } }));
        return send(200, { issues, isLast: true });
      }
      const m = /^\/rest\/api\/3\/issue\/([^/]+)\/(comment|transitions)$/.exec(path);
      const issue = m ? this.issues.get(decodeURIComponent(m[1])) : undefined;
      if (m && !issue) return send(404, { errorMessages: ['Issue does not exist or you do not have permission to see it.'], errors: {} });
      if (m && issue && m[2] === 'comment' && req.method === 'POST') {
        issue.comments.push(adfText(body.body));
        return send(201, { id: String(issue.comments.length) });
      }
      if (m && issue && m[2] === 'transitions' && req.method === 'GET') return send(200, { transitions: [{ id: '21', name: 'In Progress', to: { name: 'In Progress' } }, { id: '31', name: 'Done', to: { name: 'Done' } }] });
      if (m && issue && m[2] === 'transitions' && req.method === 'POST') {
        issue.status = body.transition?.id === '31' ? 'Done' : 'In Progress';
        return send(204);
      }
      return send(404, { errorMessages: [`no route ${req.method} ${path}`] });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }
}
