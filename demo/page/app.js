// The demo's Slack-like client: polls what the Slack stand-in holds and renders it; clicks and
// /ir commands go to the demo server, which signs them as Slack would and posts them to the bot.
'use strict';

const view = { user: 'U01ANA', channel: 'C02CRYPTO', state: null, lastJson: '', closedModals: new Set(), modalErrors: {} };
const EMOJI = {
  red_circle: '🔴', large_orange_circle: '🟠', large_yellow_circle: '🟡', large_blue_circle: '🔵', white_circle: '⚪',
  white_check_mark: '✅', heavy_check_mark: '✔️', x: '❌', warning: '⚠️', hourglass_flowing_sand: '⏳', hourglass: '⌛',
  lock: '🔒', unlock: '🔓', rotating_light: '🚨', mag: '🔍', no_entry: '⛔', camera: '📷', octagonal_sign: '🛑',
  key: '🔑', page_facing_up: '📄', information_source: 'ℹ️', stopwatch: '⏱️', arrows_counterclockwise: '🔄',
  leftwards_arrow_with_hook: '↩️', bust_in_silhouette: '👤', pick: '⛏️', clipboard: '📋', scroll: '📜', skull: '💀',
  hammer_and_wrench: '🛠️', memo: '📝', heavy_minus_sign: '➖', large_green_circle: '🟢', grey_question: '❔',
};

const $ = (sel) => document.querySelector(sel);
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'html') e.innerHTML = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c);
  return e;
}
const escapeHtml = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** Slack escapes &, < and > in message text; show them as the characters they stand for. */
const unslack = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

function userName(id) {
  const u = view.state?.users.find((x) => x.id === id);
  return u ? `${u.name}` : id;
}
function channelName(id) {
  return view.state?.channels.find((c) => c.id === id)?.name ?? id;
}

/** Slack's <…> tokens: mentions, channels, dates, links. */
function token(inner) {
  const [target, label] = inner.split('|');
  if (target.startsWith('@')) return `<b>@${escapeHtml(userName(target.slice(1)))}</b>`;
  if (target.startsWith('#')) return `<b>#${escapeHtml(label ?? channelName(target.slice(1)))}</b>`;
  if (target.startsWith('!date^')) {
    // Slack shows the date in the reader's time zone; so does the page.
    const epoch = Number(target.split('^')[1]);
    return escapeHtml(Number.isFinite(epoch) ? new Date(epoch * 1000).toLocaleString() : unslack(label ?? target));
  }
  if (target.startsWith('!subteam^')) return `<b>@${escapeHtml(label ?? target.slice(9))}</b>`;
  if (target.startsWith('!')) return `<b>@${escapeHtml(target.slice(1))}</b>`;
  const url = unslack(target);
  const safeUrl = /^(https?|mailto):/i.test(url) ? url : '#';
  return `<a href="${escapeHtml(safeUrl)}" target="_blank" rel="noopener noreferrer">${escapeHtml(unslack(label ?? target))}</a>`;
}

function inline(text) {
  // Tokens first (they may hold * or _), then emphasis on the escaped rest.
  return text
    .split(/(<[^<>]+>)/)
    .map((part, i) => {
      if (i % 2 === 1) return token(part.slice(1, -1));
      let h = escapeHtml(unslack(part));
      h = h.replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,:;!?])/g, '$1<b>$2</b>');
      h = h.replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,:;!?])/g, '$1<i>$2</i>');
      h = h.replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,:;!?])/g, '$1<s>$2</s>');
      h = h.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] ?? m);
      return h;
    })
    .join('');
}

function mrkdwn(text) {
  return String(text ?? '')
    .split('```')
    .map((seg, i) => {
      if (i % 2 === 1) return `<pre>${escapeHtml(unslack(seg.replace(/^\n/, '')))}</pre>`;
      return seg
        .split('`')
        .map((s, j) => (j % 2 === 1 ? `<code>${escapeHtml(unslack(s))}</code>` : inline(s)))
        .join('')
        .replace(/\n/g, '<br>');
    })
    .join('');
}

function textObject(t) {
  if (!t) return '';
  return t.type === 'plain_text' ? escapeHtml(t.text).replace(/:([a-z0-9_+-]+):/g, (m, n) => EMOJI[n] ?? m) : mrkdwn(t.text);
}

function interactive(e, msg, blockId) {
  const base = { channel: msg.channel, ts: msg.ts, threadTs: msg.threadTs, blockId, actionId: e.action_id };
  if (e.type === 'button') {
    return el('button', { class: e.style, 'data-action-id': e.action_id, onclick: (ev) => act(ev.currentTarget, { ...base, type: 'button', value: e.value, label: e.text?.text }) }, e.text?.text ?? 'Button');
  }
  if (e.type === 'overflow' || e.type === 'static_select') {
    const options = e.options ?? (e.option_groups ?? []).flatMap((g) => g.options);
    const sel = el('select', { 'data-action-id': e.action_id, 'aria-label': e.type === 'overflow' ? 'More actions' : e.placeholder?.text ?? 'Choose' },
      el('option', { value: '' }, e.type === 'overflow' ? '⋯ more' : e.placeholder?.text ?? 'Choose…'),
      options.map((o, i) => el('option', { value: String(i) }, o.text.text)));
    sel.addEventListener('change', () => {
      const o = options[Number(sel.value)];
      if (o) act(sel, { ...base, type: e.type, value: o.value, label: o.text.text });
    });
    return sel;
  }
  return el('span', { class: 'context' }, `[${e.type}]`);
}

function renderBlock(b, msg) {
  switch (b.type) {
    case 'header':
      return el('div', { class: 'block block-header', html: textObject(b.text) });
    case 'section': {
      const main = el('div', { class: 'section-text' });
      if (b.text) main.innerHTML = textObject(b.text);
      if (b.fields) main.append(el('div', { class: 'fields' }, b.fields.map((f) => el('div', { html: textObject(f) }))));
      const row = el('div', { class: 'section-row' }, main);
      if (b.accessory && b.accessory.type !== 'image') row.append(el('div', { class: 'accessory' }, interactive(b.accessory, msg, b.block_id)));
      return el('div', { class: 'block block-section', 'data-block-id': b.block_id }, row);
    }
    case 'context':
      return el('div', { class: 'block context', html: (b.elements ?? []).filter((x) => x.text !== undefined).map((x) => textObject(x)).join(' ') });
    case 'divider':
      return el('hr');
    case 'actions':
      return el('div', { class: 'block actions', 'data-block-id': b.block_id }, (b.elements ?? []).map((e) => interactive(e, msg, b.block_id)));
    case 'rich_text':
      return el('div', { class: 'block', html: mrkdwn(JSON.stringify(b.elements)) });
    default:
      return el('div', { class: 'block context' }, `[${b.type} block]`);
  }
}

function renderMessage(msg, opts = {}) {
  const blocks = msg.blocks?.length ? msg.blocks.map((b) => renderBlock(b, msg)) : [el('div', { html: mrkdwn(msg.text) })];
  const time = new Date(Number(String(msg.ts ?? '0').split('.')[0]) * 1000);
  return el('div', { class: `msg${opts.ephemeral ? ' ephemeral' : ''}${opts.broadcast ? ' broadcast' : ''}`, 'data-ts': msg.ts },
    el('div', { class: 'avatar' }, 'IR'),
    el('div', { class: 'body' },
      el('div', { class: 'who' }, 'ir-bot', el('span', { class: 'app' }, 'APP'),
        msg.ts ? el('span', { class: 'ts' }, time.toLocaleTimeString()) : null,
        msg.edited ? el('span', { class: 'edited' }, '(edited)') : null),
      opts.ephemeral ? el('div', { class: 'only' }, 'Only visible to you') : null,
      opts.broadcast ? el('div', { class: 'only' }, 'replied to a thread, also sent to the channel') : null,
      blocks));
}

function renderFile(f) {
  return el('div', { class: 'file' }, '📄 ', el('a', { href: `/api/files/${encodeURIComponent(f.id)}`, target: '_blank' }, f.name || f.id), ` · ${f.bytes} bytes`);
}

function render() {
  const s = view.state;
  if (!s) return;
  $('#users').replaceChildren(...s.users.map((u) =>
    el('button', { id: `as-${u.id}`, 'aria-pressed': String(u.id === view.user), onclick: () => { view.user = u.id; render(); } }, `${u.name} · ${u.role}`)));
  $('#channels').replaceChildren(...s.channels.map((c) => {
    const n = s.messages.filter((m) => m.channel === c.id && (!m.threadTs || m.broadcast)).length;
    return el('button', { class: c.id === view.channel ? 'current' : '', 'data-channel': c.id, onclick: () => { view.channel = c.id; render(); } },
      `# ${c.name}`, n ? el('span', { class: 'badge' }, String(n)) : null);
  }));
  $('#channel-title').textContent = `# ${channelName(view.channel)}`;

  const mine = s.ephemeral.filter((e) => e.user === view.user && e.channel === view.channel);
  const out = [];
  // A reply "also sent to the channel" (reply_broadcast) shows in the channel too, as in Slack.
  for (const top of s.messages.filter((m) => m.channel === view.channel && (!m.threadTs || m.broadcast))) {
    out.push(renderMessage(top, { broadcast: !!top.threadTs }));
    if (top.threadTs) continue;
    const replies = s.messages.filter((m) => m.channel === view.channel && m.threadTs === top.ts);
    const files = s.files.filter((f) => f.channel === view.channel && f.threadTs === top.ts);
    const notes = mine.filter((e) => e.threadTs === top.ts);
    if (replies.length || files.length || notes.length) {
      out.push(el('div', { class: 'thread', 'data-thread': top.ts },
        el('div', { class: 'thread-label' }, `${replies.length} ${replies.length === 1 ? 'reply' : 'replies'}`),
        replies.map((m) => renderMessage(m)),
        files.length ? el('div', {}, files.map(renderFile)) : null,
        notes.map((e) => renderMessage(e, { ephemeral: true }))));
    }
  }
  for (const f of s.files.filter((x) => x.channel === view.channel && !x.threadTs)) out.push(renderFile(f));
  for (const e of mine.filter((x) => !x.threadTs || !s.messages.some((m) => m.ts === x.threadTs))) out.push(renderMessage(e, { ephemeral: true }));
  const box = $('#messages');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.replaceChildren(...out);
  if (atBottom) box.scrollTop = box.scrollHeight;
  renderModal();
}

function renderModal() {
  const modal = view.state.modals.filter((m) => m.user === view.user && !view.closedModals.has(m.trigger)).at(-1);
  const host = $('#modal');
  if (!modal) {
    host.hidden = true;
    host.replaceChildren();
    return;
  }
  if (host.dataset.trigger === modal.trigger && !host.hidden) return;
  host.dataset.trigger = modal.trigger;
  const v = modal.view;
  const fields = (v.blocks ?? []).map((b) => {
    if (b.type !== 'input') return renderBlock(b, {});
    const e = b.element;
    let input;
    if (e.type === 'static_select') {
      const options = e.options ?? [];
      input = el('select', { name: b.block_id }, options.map((o) => el('option', { value: o.value, selected: e.initial_option?.value === o.value }, o.text.text)));
    } else {
      input = el('input', { name: b.block_id, value: e.initial_value ?? '' });
    }
    return el('div', {}, el('label', {}, b.label?.text ?? b.block_id, input), b.hint ? el('div', { class: 'hint' }, b.hint.text) : null,
      el('div', { class: 'error', 'data-error-for': b.block_id }));
  });
  const form = el('form', { class: 'modal-box', role: 'dialog', 'aria-label': v.title?.text ?? 'Dialog' },
    el('h3', {}, v.title?.text ?? ''), fields,
    el('div', { class: 'buttons' },
      el('button', { type: 'button', onclick: () => closeModal(modal.trigger) }, v.close?.text ?? 'Cancel'),
      el('button', { type: 'submit', class: 'primary' }, v.submit?.text ?? 'Submit')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const values = Object.fromEntries(new FormData(form).entries());
    form.classList.add('busy');
    const r = await post('/api/submit', { user: view.user, trigger: modal.trigger, values });
    form.classList.remove('busy');
    const errors = r.answer?.response_action === 'errors' ? r.answer.errors : undefined;
    form.querySelectorAll('.error').forEach((x) => (x.textContent = errors?.[x.dataset.errorFor] ?? ''));
    if (!errors) closeModal(modal.trigger);
  });
  host.replaceChildren(form);
  host.hidden = false;
}

function closeModal(trigger) {
  view.closedModals.add(trigger);
  $('#modal').hidden = true;
  renderModal();
}

async function post(path, body) {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return res.json();
}

async function act(control, action) {
  control.classList.add('busy');
  try {
    const r = await post('/api/action', { user: view.user, ...action });
    if (r.status !== 200) alert(`The bot answered ${r.status}`);
  } finally {
    control.classList.remove('busy');
    await refresh();
  }
}

$('#composer').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('#command');
  const text = input.value.trim();
  if (!text) return;
  if (!/^\/ir\b/.test(text)) {
    alert('Only /ir commands reach ir-bot here, e.g. /ir help');
    return;
  }
  input.value = '';
  const r = await post('/api/command', { user: view.user, channel: view.channel, text });
  if (r.status !== 200) alert(`The bot answered ${r.status}`);
  await refresh();
});

async function refresh() {
  try {
    const res = await fetch('/api/state');
    const text = await res.text();
    if (text === view.lastJson) return;
    // Keep an open dropdown from being redrawn under the user's hand; the next tick catches up.
    if (document.activeElement?.tagName === 'SELECT' && document.activeElement.closest('#messages') && view.state) return;
    view.lastJson = text;
    view.state = JSON.parse(text);
    render();
  } catch {
    // the demo is stopping or restarting; try again on the next tick
  }
}

refresh();
setInterval(refresh, 800);
