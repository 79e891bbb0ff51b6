/**
 * The text a person sees of a Slack message's blocks, as Slack draws it: mrkdwn markup gone,
 * dates as their fallback, mentions as a name, emoji codes as one character, entities decoded.
 */
export function visibleText(blocks: unknown[]): string {
  const out: string[] = [];
  const mrkdwn = (t: string) =>
    t
      .replace(/<!date\^\d+\^[^|>]*\|([^>]*)>/g, '$1')
      .replace(/<@[UW][A-Z0-9]+>/g, '@someone')
      .replace(/<[^|>]+\|([^>]*)>/g, '$1')
      .replace(/:(warning|hourglass_flowing_sand|white_check_mark|x|no_entry|no_entry_sign|information_source|mag|gear|arrow_forward|alarm_clock):/g, '•')
      .replace(/[*_`~]/g, '')
      .replace(/\u200B/g, '')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if ((o.type === 'mrkdwn' || o.type === 'plain_text') && typeof o.text === 'string') {
      out.push(o.type === 'mrkdwn' ? mrkdwn(o.text) : o.text);
      return;
    }
    for (const [k, x] of Object.entries(o)) if (k !== 'value' && x && typeof x === 'object') walk(x);
  };
  walk(blocks);
  return out.join('\n');
}
