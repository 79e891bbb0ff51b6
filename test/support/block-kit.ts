/**
 * Slack's Block Kit limits that make chat.postMessage refuse a whole message, checked on a view.
 * Returns every violation, so a failing test names them all.
 */
export function blockKitProblems(blocks: any[]): string[] {
  const out: string[] = [];
  const len = (s: unknown) => (typeof s === 'string' ? s.length : 0);
  if (blocks.length > 50) out.push(`${blocks.length} blocks (at most 50)`);
  const blockIds = new Set<string>();
  const actionIds = new Set<string>();
  const textObj = (where: string, t: any, max: number) => {
    if (!t || typeof t.text !== 'string') return out.push(`${where}: text object without text`);
    if (t.text.length === 0) out.push(`${where}: empty text`);
    if (t.text.length > max) out.push(`${where}: text of ${t.text.length} chars (at most ${max})`);
  };
  const element = (where: string, e: any) => {
    if (e.action_id !== undefined) {
      if (len(e.action_id) > 255) out.push(`${where}: action_id over 255`);
      if (actionIds.has(e.action_id)) out.push(`${where}: duplicate action_id ${e.action_id} in one block`);
      actionIds.add(e.action_id);
    }
    if (e.type === 'button') {
      textObj(`${where}.text`, e.text, 75);
      if (len(e.value) > 2000) out.push(`${where}: button value of ${len(e.value)} chars (at most 2000)`);
      if (e.url && len(e.url) > 3000) out.push(`${where}: button url over 3000`);
    }
    if (e.type === 'overflow') {
      if (!Array.isArray(e.options) || e.options.length < 2 || e.options.length > 5) out.push(`${where}: overflow with ${e.options?.length} options (2 to 5)`);
      for (const [i, o] of (e.options ?? []).entries()) {
        textObj(`${where}.options[${i}].text`, o.text, 75);
        if (len(o.value) > 150) out.push(`${where}.options[${i}]: option value of ${len(o.value)} chars (at most 150)`);
      }
    }
  };
  blocks.forEach((b, i) => {
    const where = `blocks[${i}]`;
    // Slack wants action_ids unique within their block (rows of a roll-up may share one).
    actionIds.clear();
    if (b.block_id !== undefined) {
      if (len(b.block_id) > 255) out.push(`${where}: block_id over 255`);
      if (blockIds.has(b.block_id)) out.push(`${where}: duplicate block_id ${b.block_id}`);
      blockIds.add(b.block_id);
    }
    switch (b.type) {
      case 'header':
        textObj(`${where}.text`, b.text, 150);
        if (b.text?.type !== 'plain_text') out.push(`${where}: header text must be plain_text`);
        break;
      case 'section':
        if (!b.text && !b.fields) out.push(`${where}: section without text or fields`);
        if (b.text) textObj(`${where}.text`, b.text, 3000);
        if (b.fields) {
          if (b.fields.length > 10) out.push(`${where}: ${b.fields.length} fields (at most 10)`);
          b.fields.forEach((f: any, j: number) => textObj(`${where}.fields[${j}]`, f, 2000));
        }
        if (b.accessory) element(`${where}.accessory`, b.accessory);
        break;
      case 'context':
        if (!b.elements?.length || b.elements.length > 10) out.push(`${where}: context with ${b.elements?.length} elements (1 to 10)`);
        b.elements?.forEach((e: any, j: number) => e.type !== 'image' && textObj(`${where}.elements[${j}]`, e, 3000));
        break;
      case 'actions':
        if (!b.elements?.length || b.elements.length > 25) out.push(`${where}: actions with ${b.elements?.length} elements (1 to 25)`);
        b.elements?.forEach((e: any, j: number) => element(`${where}.elements[${j}]`, e));
        break;
      case 'divider':
        break;
      default:
        out.push(`${where}: unexpected block type ${b.type}`);
    }
  });
  return out;
}

/** Every mrkdwn text in a view, as Slack would parse it. */
export function mrkdwnTexts(blocks: unknown): string[] {
  const out: string[] = [];
  const walk = (v: any) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      if (v.type === 'mrkdwn' && typeof v.text === 'string') out.push(v.text);
      Object.values(v).forEach(walk);
    }
  };
  walk(blocks);
  return out;
}

/**
 * The `<…>` sequences a card may contain: our own links to the AWS console, Slack dates and
 * channel references. Anything else in angle brackets came from a finding unescaped.
 */
export function liveTokens(text: string): string[] {
  return [...text.matchAll(/<([^>]*)>/g)].map((m) => m[1]);
}
