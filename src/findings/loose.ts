/**
 * Readers for the optional depths of provider JSON. Findings nest dozens of optional fields;
 * reading them defensively keeps one malformed leaf from rejecting an otherwise good finding.
 */

export type Json = Record<string, unknown>;


export function obj(v: unknown): Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

export function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return undefined;
}

export function uniq<T>(items: (T | undefined)[]): T[] {
  return [...new Set(items.filter((i): i is T => i !== undefined))];
}

export function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** Stand-in for a finding with no usable timestamp: any real version of it counts as newer. */
export const EPOCH = '1970-01-01T00:00:00.000Z';

/** A string field; a number is taken as its decimal text, and noted (numbers where strings were expected). */
export function typed(v: unknown, field: string, notes: string[]): string | undefined {
  if (typeof v === 'string') return v.length > 0 ? v : undefined;
  if (typeof v === 'number' && Number.isFinite(v)) {
    notes.push(`${field} was a number, not a string`);
    return String(v);
  }
  if (v !== undefined && v !== null) notes.push(`${field} is not a string`);
  return undefined;
}

/** Clock skew tolerated between the finding's source and us before a timestamp counts as "in the future". */
const FUTURE_SKEW_MS = 5 * 60_000;

/**
 * A finding's version time, never later than now: a version dated 2099 would otherwise count as
 * newer than every genuine update after it, and they would be dropped as duplicates.
 */
export function notFuture(iso: string, field: string, notes: string[], now = Date.now()): string {
  if (Date.parse(iso) <= now + FUTURE_SKEW_MS) return iso;
  notes.push(`${field} ${JSON.stringify(iso.slice(0, 40))} is in the future: taken as the time it arrived`);
  return new Date(now).toISOString();
}

/** An ISO-8601 timestamp (epoch milliseconds accepted), normalised; odd values are noted. */
export function dateOf(v: unknown, field: string, notes: string[]): string | undefined {
  if (v === undefined || v === null) return undefined;
  const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(ms)) {
    notes.push(`${field} is not a date`);
    return undefined;
  }
  return typeof v === 'string' ? v : new Date(ms).toISOString();
}

/** A confidence score only when it is one (0-100); anything else is left out rather than guessed. */
export function confidenceOf(v: number | undefined): number | undefined {
  return v !== undefined && v >= 0 && v <= 100 ? v : undefined;
}
