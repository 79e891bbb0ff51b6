import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from './lib/app';
import { EXAMPLE_CONTEXT } from './lib/example-context';

/**
 * `npm run deploy:synth`: synthesizes every stack with stand-in values into a temporary
 * directory, offline (no credentials, no Docker: the image asset is only staged), and fails on
 * any cdk-nag error or warning. `--out DIR` keeps the cloud assembly there.
 */
const outArg = process.argv.indexOf('--out');
const outdir = outArg > 0 ? process.argv[outArg + 1] : mkdtempSync(join(tmpdir(), 'ir-bot-cdk.out-'));
const started = Date.now();
try {
  const assembly = buildApp(EXAMPLE_CONTEXT, outdir).app.synth();
  const problems = assembly.stacks.flatMap((s) =>
    s.messages.filter((m) => m.level === 'error' || m.level === 'warning').map((m) => `${s.stackName} ${m.id}: [${m.level}] ${String(m.entry.data).split('\n')[0]}`),
  );
  for (const s of assembly.stacks) console.log(`${s.stackName}: ${Object.keys(s.template.Resources ?? {}).length} resources`);
  console.log(`synthesized in ${((Date.now() - started) / 1000).toFixed(1)} s${outArg > 0 ? ` to ${outdir}` : ''}`);
  if (problems.length) {
    console.error(`${problems.length} unsuppressed error(s)/warning(s):\n${problems.join('\n')}`);
    process.exitCode = 1;
  }
} finally {
  if (outArg < 0) rmSync(outdir, { recursive: true, force: true });
}
