import { parseArgs } from 'node:util';
import { memoryDocument } from './evidence';

/** S3's rules for a general purpose bucket's name (with the two checks below: no "..", not an IP address). */
const BUCKET = /^(?!xn--|sthree-)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?<!-s3alias|--ol-s3)$/;

const USAGE = 'usage: npm run memory-document -- --tools-bucket <bucket> --evidence-bucket <bucket> > ir-bot-memory-capture.json';

/**
 * `npm run memory-document`: our SSM document with its URLs pinned to your two buckets, for those
 * who create it without deploy/ (aws ssm create-document --name ir-bot-memory-capture
 * --document-type Command --document-format JSON --content file://…). The shipped JSON accepts
 * any https URL, which would let whoever holds the responder role run any binary as root.
 */
export function memoryDocumentCli(argv: string[]): { code: number; out?: string; err?: string } {
  let values: { 'tools-bucket'?: string; 'evidence-bucket'?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { 'tools-bucket': { type: 'string' }, 'evidence-bucket': { type: 'string' } }, strict: true }));
  } catch (err) {
    return { code: 2, err: `${(err as Error).message}\n${USAGE}` };
  }
  for (const flag of ['tools-bucket', 'evidence-bucket'] as const) {
    const name = values[flag];
    if (!name) return { code: 2, err: `--${flag} is required: the document accepts URLs of that bucket only\n${USAGE}` };
    if (!BUCKET.test(name) || name.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(name)) return { code: 2, err: `--${flag} "${name}" is not an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)` };
  }
  const doc = memoryDocument({ toolsBucket: values['tools-bucket'], evidenceBucket: values['evidence-bucket'] });
  return { code: 0, out: `${JSON.stringify(doc, null, 2)}\n` };
}
