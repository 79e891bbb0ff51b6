/** Invisible, so the text reads the same, but it stops Slack from seeing a link or a name. */
const ZWSP = '\u200B';

/**
 * Look-alikes folded to what they imitate (fullwidth `＜!channel＞`, `＃general`, `ｅｖｉｌ．com`,
 * ideographic full stops) so the escaping below sees them; Slack and browsers treat several of
 * them as the real thing.
 */
function fold(text: string): string {
  return text.normalize('NFKC').replace(/[\u3002\uFF0E\uFF61]/g, '.');
}

/** `&`, `<`, `>` as entities: Slack reads `<…>` as links and mentions, `&` as an entity. */
function escapeEntities(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Slack mrkdwn treats `<…>` as links and mentions (`<!channel>`, `<https://x|y>`) and `&` as the
 * start of an entity, and outside code spans it also links bare URLs, domains and `#channel`
 * names by itself. Every string from a finding, a user or AWS goes through this before it is
 * placed in a mrkdwn text object: the entities are escaped, and a zero-width space after `#`/`@`,
 * inside `http(s)://` and after `www` leaves no channel name, mention or URL for Slack to find. Bare
 * domains are left to `verbatim: true`, which every message's mrkdwn carries (verbatimBlocks).
 */
export function escapeMrkdwn(text: string): string {
  return escapeEntities(fold(text))
    .replace(/([#@])(?=[\p{L}\p{N}_-])/gu, `$1${ZWSP}`)
    // Only the schemes Slack links: an s3:// location the bot reports stays copyable.
    .replace(/\b(https?|ftp|wss?):\/\//gi, `$1:${ZWSP}//`)
    .replace(/\b(www)(?=\.)/gi, `$1${ZWSP}`);
}

/**
 * For text inside a code span or block, where Slack links nothing: entities only, so the value
 * stays exactly copyable. Backticks are replaced so the text cannot close the span.
 */
export function codeText(text: string, max: number): string {
  return truncate(escapeEntities(fold(text).replace(/`/g, 'ˋ')), max);
}

/**
 * Every mrkdwn text object in these blocks marked `verbatim: true`: Slack then links nothing by
 * itself (bare URLs, #channel names), only the `<…>` links and mentions the views built on purpose.
 */
export function verbatimBlocks<T>(blocks: T): T {
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (o.type === 'mrkdwn' && typeof o.text === 'string') o.verbatim = true;
    for (const x of Object.values(o)) if (x && typeof x === 'object') walk(x);
  };
  walk(blocks);
  return blocks;
}

/** Cut to a length (counted after escaping) without leaving half an entity behind. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, Math.max(0, max - 1));
  const amp = cut.lastIndexOf('&');
  if (amp >= 0 && !cut.slice(amp).includes(';')) cut = cut.slice(0, amp);
  return `${cut}…`;
}

/** Escaped, length-capped mrkdwn text. */
export function safe(text: string, max = 3000): string {
  return truncate(escapeMrkdwn(text), max);
}

/**
 * Escaped and capped like `safe`, but cut only between words: a line that must be shortened never
 * ends in half a word or half an id that a reader could take for a whole one.
 */
export function safeWords(text: string, max: number): string {
  const escaped = escapeMrkdwn(text);
  if (escaped.length <= max) return escaped;
  const space = escaped.lastIndexOf(' ', max - 1);
  return space > max / 2 ? `${escaped.slice(0, space).replace(/[,;:]$/, '')} …` : truncate(escaped, max);
}

/**
 * Inline code for short attacker-controlled values (domains, user agents, tags): Slack does not
 * turn a URL inside a code span into a link, and a backtick in the value cannot close the span.
 */
export function code(text: string, max = 200): string {
  // Slack links nothing inside a code span, so the value stays exactly copyable (no zero-width spaces).
  return `\`${codeText(text.replace(/\n/g, ' '), max)}\``;
}

/** A link whose URL we built ourselves; the label is escaped, the URL percent-encoded by its maker. */
export function link(url: string, label: string): string {
  return `<${url.replace(/[<>|]/g, encodeURIComponent)}|${safe(label, 200)}>`;
}

/** plain_text objects are not parsed, but have their own length caps. */
export function plain(text: string, max: number): { type: 'plain_text'; text: string; emoji: true } {
  const t = text.replace(/\s+/g, ' ').trim();
  return { type: 'plain_text', text: t.length > max ? `${t.slice(0, max - 1)}…` : t || '-', emoji: true };
}
