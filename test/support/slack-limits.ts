/**
 * Slack's documented Block Kit limits that make it reject a whole message (invalid_blocks), checked
 * the way Slack would: https://docs.slack.dev/reference/block-kit/blocks and …/block-elements.
 * Returns every violation, empty when the message would post.
 */
export function blockKitViolations(blocks: unknown[], text?: string): string[] {
  const out: string[] = [];
  const max = (what: string, value: string | undefined, limit: number) => {
    if (value !== undefined && value.length > limit) out.push(`${what}: ${value.length} > ${limit}`);
  };
  if (blocks.length > 50) out.push(`blocks: ${blocks.length} > 50`);
  max('text', text, 40_000);
  const element = (where: string, e: any) => {
    max(`${where}.action_id`, e.action_id, 255);
    if (e.type === 'button') {
      max(`${where}.text`, e.text?.text, 75);
      max(`${where}.value`, e.value, 2000);
      max(`${where}.url`, e.url, 3000);
    }
    if (e.type === 'overflow' || e.type === 'static_select') {
      const opts = e.options ?? [];
      if (e.type === 'overflow' && (opts.length < 2 || opts.length > 5)) out.push(`${where}.options: ${opts.length} (overflow takes 2-5)`);
      if (opts.length > 100) out.push(`${where}.options: ${opts.length} > 100`);
      for (const [i, o] of opts.entries()) {
        max(`${where}.options[${i}].text`, o.text?.text, 75);
        max(`${where}.options[${i}].value`, o.value, 150);
      }
    }
  };
  for (const [i, b] of (blocks as any[]).entries()) {
    const where = `blocks[${i}]`;
    max(`${where}.block_id`, b.block_id, 255);
    if (b.type === 'header') max(`${where}.text`, b.text?.text, 150);
    if (b.type === 'section') {
      max(`${where}.text`, b.text?.text, 3000);
      if ((b.fields ?? []).length > 10) out.push(`${where}.fields: ${b.fields.length} > 10`);
      for (const [j, f] of (b.fields ?? []).entries()) max(`${where}.fields[${j}]`, f.text, 2000);
      if (!b.text && !b.fields) out.push(`${where}: a section needs text or fields`);
      if (b.accessory) element(`${where}.accessory`, b.accessory);
    }
    if (b.type === 'context') {
      if ((b.elements ?? []).length > 10) out.push(`${where}.elements: ${b.elements.length} > 10`);
      for (const [j, e] of (b.elements ?? []).entries()) max(`${where}.elements[${j}]`, e.text, 3000);
    }
    if (b.type === 'actions') {
      if ((b.elements ?? []).length > 25) out.push(`${where}.elements: ${b.elements.length} > 25`);
      for (const [j, e] of (b.elements ?? []).entries()) element(`${where}.elements[${j}]`, e);
    }
  }
  return out;
}
