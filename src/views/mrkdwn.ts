/**
 * Slack mrkdwn treats `<…>` as links and mentions (`<!channel>`, `<https://x|y>`) and `&` as the
 * start of an entity. Every string from a finding, a user or AWS goes through these before it is
 * placed in a mrkdwn text object.
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
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
 * Inline code for short attacker-controlled values (domains, user agents, tags): Slack does not
 * turn a URL inside a code span into a link, and a backtick in the value cannot close the span.
 */
export function code(text: string, max = 200): string {
  return `\`${safe(text.replace(/`/g, 'ˋ').replace(/\n/g, ' '), max)}\``;
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
