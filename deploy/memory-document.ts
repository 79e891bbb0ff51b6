import { memoryDocumentCli } from './lib/memory-document-cli';

const r = memoryDocumentCli(process.argv.slice(2));
if (r.out) process.stdout.write(r.out);
if (r.err) process.stderr.write(`${r.err}\n`);
process.exitCode = r.code;
