import { UNDO_OF, type ActionName, type ActionRequest } from './model';

export type UndoAsk = { ok: true; action: ActionName; request: ActionRequest } | { ok: false; message: string };

/** The slash command of each undo, where it differs from the action's name. */
const COMMAND: Partial<Record<ActionName, string>> = { 'allow-principal': 'allow' };

/** Requests that decided nothing: they do not supersede anything. */
const NO_EFFECT: ActionRequest['state'][] = ['rejected', 'expired', 'refused'];

/**
 * An undo button acts on exactly the request it was shown with: refused when that request did not
 * finish, when it was undone already, or when a newer request of the same kind on the same target
 * took over (its record is now the newer one's; its own button undoes it). The action's plan checks
 * the record again when the undo runs.
 */
export function undoAsk(r: ActionRequest | undefined, sameTarget: ActionRequest[]): UndoAsk {
  if (!r) return { ok: false, message: 'That request is no longer known (it may have been cleaned up after the retention period), so nothing was done.' };
  const action = UNDO_OF[r.action];
  if (!action) return { ok: false, message: `*${r.action}* has no undo button.` };
  if (r.state !== 'done') return { ok: false, message: `\`${r.id}\` is ${r.state}, not done: there is nothing of it to undo.` };
  const later = sameTarget.filter((x) => x.id !== r.id && !NO_EFFECT.includes(x.state) && seq(x.id) > seq(r.id));
  const undone = later.find((x) => x.action === action && x.state === 'done');
  const newer = later.filter((x) => x.action === r.action).at(-1);
  if (newer) {
    const command = `/ir ${COMMAND[action] ?? action} ${r.target}`;
    return { ok: false, message: `\`${r.id}\` was superseded by \`${newer.id}\` (${newer.state}), which now holds the recorded state: undo from that one's result or with \`${command}\`. Nothing was queued.` };
  }
  if (undone) return { ok: false, message: `\`${r.id}\` was already undone by \`${undone.id}\`. Nothing was queued.` };
  return { ok: true, action, request: r };
}

/**
 * The Release button on an isolation result acts on that isolation; the release plan checks that
 * it is still the recorded one (a newer isolation replaced it: refused there, with the reason).
 */
export function releaseAsk(r: ActionRequest | undefined): UndoAsk {
  if (!r || r.action !== 'isolate') return { ok: false, message: 'That isolation is no longer known, so nothing was done. Use `/ir release <instance-id>`.' };
  return { ok: true, action: 'release', request: r };
}

/** Request ids end in a sequence number that grows across all requests. */
function seq(id: string): number {
  return Number(/-(\d+)$/.exec(id)?.[1] ?? 0);
}
