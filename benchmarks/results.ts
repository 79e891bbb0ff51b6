import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

const RESULTS = join(__dirname, 'RESULTS.md');

export function machine(): string {
  const redis = execSync('redis-server --version').toString().match(/v=([\d.]+)/)?.[1];
  return `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, Redis ${redis}`;
}

export function percentile(sorted: number[], p: number): number {
  // A short run may have no sample in the window asked for.
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** RESULTS.md is committed: a run changes it only when asked (`--write`). */
export const WRITE = process.argv.includes('--write');

/**
 * Replaces the section that starts with `heading` (up to the next `## `), or adds it after the
 * title; without `--write` it prints the section instead.
 */
export function writeSection(heading: string, section: string): void {
  if (!WRITE) {
    process.stdout.write(`\n${section}\n(benchmarks/RESULTS.md left as it is: run with --write to record these figures)\n`);
    return;
  }
  let existing: string;
  try {
    existing = readFileSync(RESULTS, 'utf8');
  } catch {
    existing = '# Benchmark results\n\nNewest first. Each section names its machine and date.\n\n';
  }
  const at = existing.indexOf(heading);
  if (at >= 0) {
    const end = existing.indexOf('\n## ', at + heading.length);
    existing = existing.slice(0, at) + (end >= 0 ? existing.slice(end + 1) : '');
  }
  const firstSection = existing.indexOf('\n## ');
  const out = firstSection >= 0 ? `${existing.slice(0, firstSection + 1)}${section}\n${existing.slice(firstSection + 1)}` : `${existing.trimEnd()}\n\n${section}`;
  writeFileSync(RESULTS, out);
}

/** Waits until a started bot answers /healthz. */
export async function waitHealthy(base: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      // starting
    }
    if (i > 200) throw new Error('bot did not become healthy');
    await new Promise((r) => setTimeout(r, 100));
  }
}
