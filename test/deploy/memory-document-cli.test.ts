import { memoryDocumentCli } from '../../deploy/lib/memory-document-cli';

describe('npm run memory-document: our SSM document pinned to your buckets, for a hand-made install', () => {
  it('prints the document with toolUrl and uploadUrl accepting only those buckets', () => {
    const r = memoryDocumentCli(['--tools-bucket', 'acme-ir-tools', '--evidence-bucket', 'acme.ir.evidence']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out!);
    expect(doc.mainSteps.length).toBeGreaterThan(0);
    const tool = new RegExp(doc.parameters.toolUrl.allowedPattern);
    const upload = new RegExp(doc.parameters.uploadUrl.allowedPattern);
    expect(tool.test('https://acme-ir-tools.s3.eu-west-1.amazonaws.com/avml/avml?X-Amz-Signature=0a')).toBe(true);
    expect(upload.test('https://s3.us-east-1.amazonaws.com/acme.ir.evidence/memory/c/i-1/r.lime?x-id=PutObject')).toBe(true);
    // A dot segment or its percent-encoding would take curl to another bucket of the same host.
    expect(tool.test('https://s3.us-east-1.amazonaws.com/acme-ir-tools/../attacker-bucket/avml')).toBe(false);
    expect(tool.test('https://s3.us-east-1.amazonaws.com/acme-ir-tools/%2e%2e/attacker-bucket/avml')).toBe(false);
    expect(upload.test('https://s3.us-east-1.amazonaws.com/acme.ir.evidence/./../attacker/x.lime')).toBe(false);
    expect(doc.mainSteps.flatMap((s: any) => s.inputs.runCommand).filter((l: string) => l.includes('| curl ')).every((l: string) => l.includes('--path-as-is'))).toBe(true);
    for (const elsewhere of ['https://attacker.example/avml', 'https://acme-ir-tools-x.s3.eu-west-1.amazonaws.com/avml', 'https://acme-ir-evidence.s3.us-east-1.amazonaws.com/x']) {
      expect(tool.test(elsewhere)).toBe(false);
      expect(upload.test(elsewhere)).toBe(false);
    }
  });

  it('says what is missing or wrong, with exit code 2 and no document', () => {
    expect(memoryDocumentCli(['--evidence-bucket', 'acme-ir-evidence'])).toEqual({ code: 2, err: expect.stringMatching(/^--tools-bucket is required: the document accepts URLs of that bucket only\nusage: npm run memory-document/) });
    expect(memoryDocumentCli(['--tools-bucket', 'Acme_Tools', '--evidence-bucket', 'acme-ir-evidence'])).toEqual({ code: 2, err: '--tools-bucket "Acme_Tools" is not an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)' });
    expect(memoryDocumentCli(['--tools-bucket', 'a', '--evidence-bucket', 'acme-ir-evidence']).code).toBe(2);
    expect(memoryDocumentCli(['--tools-bucket', '192.168.5.4', '--evidence-bucket', 'acme-ir-evidence']).code).toBe(2);
    expect(memoryDocumentCli(['--tools-bucket', 'acme', '--evidence-bucket', 'acme-ir-evidence', '--bucket', 'x'])).toEqual({ code: 2, err: expect.stringContaining("Unknown option '--bucket'") });
  });
});
