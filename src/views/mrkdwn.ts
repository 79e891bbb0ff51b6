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

/** Where an id may be split: a cut on one leaves no shorter id-looking run behind. */
const SEPARATOR = /[/:@=,|]/;

/**
 * One token (an id, an ARN) cut in the middle to `room` characters, ellipsis included: its head ends
 * on a separator and its tail is the token's real end, so neither half reads as another, shorter id
 * (`i-0a1b2c3d` out of `i-0a1b2c3d4e5f60718`). No half entity is left on either side.
 */
function cutToken(token: string, room: number): string {
  if (room <= 1) return '…';
  // The tail is the token's real end, whole segments first (an ARN's last segment is its id).
  let from = token.length;
  while (from > 0) {
    let prev = from - 1;
    while (prev > 0 && !SEPARATOR.test(token[prev])) prev--;
    if (token.length - prev > room - 1) break;
    from = prev;
  }
  // The last segment alone is too long: half the room each way, the head still ending on a separator.
  if (from === token.length) from = token.length - Math.floor((room - 1) / 2);
  let tail = token.slice(from);
  const semi = tail.indexOf(';');
  if (semi >= 0 && !tail.slice(0, semi).includes('&')) tail = tail.slice(semi + 1);
  // The head, in what room is left, ends on a separator so it is no shorter id either.
  let head = token.slice(0, Math.max(0, room - 1 - tail.length));
  let lastSep = -1;
  for (let i = head.length - 1; i >= 0 && lastSep < 0; i--) if (SEPARATOR.test(head[i])) lastSep = i;
  head = lastSep >= 0 ? head.slice(0, lastSep + 1) : '';
  const amp = head.lastIndexOf('&');
  if (amp >= 0 && !head.slice(amp).includes(';')) head = head.slice(0, amp);
  return `${head}…${tail}`;
}

/**
 * Cut to a length (counted after escaping) without forging an id: prose is cut between words with
 * an ellipsis, and a long token the cut would land in is cut in its middle instead (`cutToken`),
 * never at its end, where a shorter real-looking id or key would remain for a reader to copy.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const room = max - 1;
  const before = text.slice(0, room);
  if (!/\s/.test(text[room]) && /\S$/.test(before)) {
    const start = before.search(/\S+$/);
    if (start > room / 2) return `${before.slice(0, start).trimEnd()} …`.slice(0, max);
    const rest = text.slice(start);
    const stop = rest.search(/\s/);
    const token = stop < 0 ? rest : rest.slice(0, stop);
    const more = stop >= 0 && rest.slice(stop).trim() !== '';
    const out = `${text.slice(0, start)}${cutToken(token, max - start - (more ? 2 : 0))}${more ? ' …' : ''}`;
    return out.length <= max ? out : '…';
  }
  let cut = before.trimEnd();
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
  return { type: 'plain_text', text: truncate(t, max) || '-', emoji: true };
}

/** A Slack user as a mention; ids come from our own records, which could be tampered with: only well-formed ones mention. */
export function userMention(user: string | undefined): string {
  return user && /^[UW][A-Z0-9]{2,}$/.test(user) ? `<@${user}>` : safe(user ?? 'someone', 40);
}
