/**
 * Cut text never forges an id: whatever the limit, every id-looking token a reader could copy from
 * a cut text is one that was in the text whole (issue 22: `…/web/i-0a1b2c3d4e5f607` on a button).
 */
import { code, plain, safe, truncate } from '../src/views/mrkdwn';

/** Each kind on its own, so an id inside an ARN is checked too; a run is taken whole (never a prefix of it). */
const ID_LIKE = [/\bi-[0-9a-f]{8,}/g, /\b(?:AKIA|ASIA)[A-Z0-9]{8,}/g, /\b\d{12,}/g, /\bsg-[0-9a-f]{8,}/g];

function idsIn(text: string): string[] {
  return ID_LIKE.flatMap((re) => [...text.matchAll(re)].map((m) => m[0]));
}

const INSTANCE_ARN = 'arn:aws:ec2:us-east-1:123456789012:instance/web/i-0a1b2c3d4e5f60718';
const TEXTS = [
  `Isolate ${INSTANCE_ARN}`,
  `Deny all arn:aws:iam::123456789012:role/ci-deploy-${'r'.repeat(40)}`,
  'key AKIAIOSFODNN7EXAMPLE of user ci-deploy launched i-0a1b2c3d4e5f60718 and i-0fffffffffffffff1 in sg-0123456789abcdef0',
  'i-0a1b2c3d4e5f60718',
];

describe('truncation never forges an id', () => {
  it.each(TEXTS)('%s: at every length, only whole ids (or none) survive, and the cut is marked with …', (text) => {
    const whole = new Set(idsIn(text));
    for (let max = 2; max < text.length; max++) {
      for (const cut of [truncate(text, max), plain(text, max).text]) {
        expect(cut.length).toBeLessThanOrEqual(max);
        expect(cut).toContain('…');
        // Every id-looking run a reader could copy was whole in the input.
        for (const id of idsIn(cut)) expect([...whole]).toContain(id);
      }
    }
  });

  it('a long ARN in a code span is cut in the middle and keeps its real end (the instance id) whole', () => {
    expect(code(INSTANCE_ARN, 40)).toBe('`arn:…:instance/web/i-0a1b2c3d4e5f60718`');
    expect(plain(`Isolate ${INSTANCE_ARN}`, 40).text).toBe('Isolate arn:…/web/i-0a1b2c3d4e5f60718');
  });

  it('prose is cut between words, and no half entity is left', () => {
    expect(truncate('the quick brown fox jumps over the lazy dog', 24)).toBe('the quick brown fox …');
    expect(safe('a <b> & c and more words here', 12)).not.toMatch(/&[a-z]*…/);
  });
});
