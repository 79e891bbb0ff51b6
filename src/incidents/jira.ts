/**
 * The few Jira Cloud REST v3 calls an incident ticket needs, over fetch with basic auth (account
 * e-mail + API token). Errors by class: JiraBusy (429/5xx/no answer: retry later, honouring
 * Retry-After) and JiraRefused (4xx: no retry will help; the message says why, in Jira's words).
 */
export class JiraBusy extends Error {
  constructor(message: string, readonly retryAfterMs?: number) {
    super(message);
  }
}

export class JiraRefused extends Error {}

export interface JiraSettings {
  baseUrl: string;
  email: string;
  apiToken: string;
}

/** Atlassian Document Format for plain paragraphs (v3 takes no wiki markup). */
export function adf(text: string): unknown {
  return { type: 'doc', version: 1, content: text.split('\n\n').map((p) => ({ type: 'paragraph', content: p ? [{ type: 'text', text: p }] : [] })) };
}

export class JiraClient {
  constructor(private readonly s: JiraSettings, private readonly timeoutMs = 10_000) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.s.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Basic ${Buffer.from(`${this.s.email}:${this.s.apiToken}`).toString('base64')}`,
          accept: 'application/json',
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new JiraBusy(`Jira did not answer (${(err as Error).message})`);
    }
    const text = await res.text();
    if (res.status === 429 || res.status >= 500) {
      const after = Number(res.headers.get('retry-after'));
      throw new JiraBusy(`Jira answered ${res.status}`, Number.isFinite(after) && after > 0 ? after * 1000 : undefined);
    }
    if (res.status >= 400) {
      let why = text.slice(0, 300);
      try {
        const j = JSON.parse(text) as { errorMessages?: string[]; errors?: Record<string, string> };
        why = [...(j.errorMessages ?? []), ...Object.entries(j.errors ?? {}).map(([k, v]) => `${k}: ${v}`)].join('; ') || why;
      } catch {
        // not JSON: keep the text
      }
      throw new JiraRefused(`Jira refused (${res.status}): ${why}`);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  async createIssue(fields: { project: string; issueType: string; summary: string; description: string; label: string }): Promise<string> {
    const res = await this.call<{ key: string }>('POST', '/rest/api/3/issue', {
      fields: { project: { key: fields.project }, issuetype: { name: fields.issueType }, summary: fields.summary.slice(0, 250), description: adf(fields.description), labels: [fields.label] },
    });
    return res.key;
  }

  /** The issue carrying this label, if one exists (an earlier create whose answer was lost). */
  async findByLabel(label: string): Promise<string | undefined> {
    const res = await this.call<{ issues?: { key: string }[] }>('POST', '/rest/api/3/search/jql', { jql: `labels = "${label}"`, fields: ['summary'], maxResults: 1 });
    return res.issues?.[0]?.key;
  }

  async comment(key: string, text: string): Promise<void> {
    await this.call('POST', `/rest/api/3/issue/${encodeURIComponent(key)}/comment`, { body: adf(text.slice(0, 30_000)) });
  }

  /** Applies the transition of this name; false when the issue offers none by that name. */
  async transition(key: string, name: string): Promise<boolean> {
    const res = await this.call<{ transitions?: { id: string; name: string; to?: { name?: string } }[] }>('GET', `/rest/api/3/issue/${encodeURIComponent(key)}/transitions`);
    const t = res.transitions?.find((x) => x.name.toLowerCase() === name.toLowerCase() || x.to?.name?.toLowerCase() === name.toLowerCase());
    if (!t) return false;
    await this.call('POST', `/rest/api/3/issue/${encodeURIComponent(key)}/transitions`, { transition: { id: t.id } });
    return true;
  }
}
