import { digestOutcome, digestPerInstance } from '../src/actions/plan-digest';

const ctx = { requestId: 'memory-i-0000000000000a001-1', planRevision: 2, aws: { account: '123456789012', region: 'eu-west-1' } } as const;
const id = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;

describe('a plan over many instances says what they share once', () => {
  it('keeps three instances line by line, with no file', () => {
    const entries = [1, 2, 3].map((n) => ({ id: id(n), same: 'running → stopped', full: `${id(n)}: running → stopped` }));
    expect(digestPerInstance(entries, ctx as any, 'Stop')).toEqual({ summary: entries.map((e) => e.full) });
  });

  it('groups equal lines, largest group first, names a minority by id, counts the rest past the cap, and files every full line', () => {
    const entries = [
      ...[1, 2, 3, 4, 5, 6].map((n) => ({ id: id(n), same: 'Amazon Linux 2023: AVML, 16 GiB', full: `${id(n)} (Amazon Linux 2023): AVML → s3://ev/case/${id(n)}/r.lime, 16 GiB` })),
      { id: id(7), same: 'Windows: winpmem, 32 GiB', full: `${id(7)} (Windows): winpmem, 32 GiB` },
      ...[8, 9, 10].map((n) => ({ id: id(n), same: `odd ${n}`, full: `${id(n)}: odd ${n}` })),
    ];
    const d = digestPerInstance(entries, ctx as any, 'Capture memory', { then: ['upload bound to the hash'], fileTail: ['extra'], maxLines: 3 });
    expect(d.summary).toEqual([
      '6 instances (listed in the file): Amazon Linux 2023: AVML, 16 GiB',
      `${id(7)}: Windows: winpmem, 32 GiB`,
      `${id(8)}: odd 8`,
      'and 2 more instance(s) with changes of their own',
      'upload bound to the hash',
      'Every instance, one line each: plan-memory-i-0000000000000a001-1-r2.txt in this thread',
    ]);
    expect(d.detail!.content.split('\n')).toEqual([
      'Capture memory: 10 instance(s) in account 123456789012 / eu-west-1, request memory-i-0000000000000a001-1, plan revision 2',
      '',
      ...entries.map((e) => e.full),
      '',
      'extra',
    ]);
  });
});

describe('a result over many instances leads with its count', () => {
  it('shows the count and only the lines that failed, caps them, and files every line; a small result is unchanged', () => {
    const lines = [...[1, 2, 3, 4, 5].map((n) => `${id(n)}: stopped ✓`), `${id(6)}: running ✗`, `${id(7)}: stopping ✗`, `${id(8)}: pending ✗`];
    const out = digestOutcome({ ok: false, lines, notes: ['n'] }, 8, 'stop-x-1', (ok, all) => `${ok} of ${all} stopped ✓`, 2);
    expect(out.summary).toEqual(['5 of 8 stopped ✓, 3 ✗', `${id(6)}: running ✗`, `${id(7)}: stopping ✗`, 'and 1 more ✗ in the file', 'Every line of the verified state: result-stop-x-1.txt in this thread']);
    expect(out.lines).toEqual(lines);
    expect(out.attachment).toEqual({ filename: 'result-stop-x-1.txt', content: `${lines.join('\n')}\n` });
    const small = { ok: true, lines: lines.slice(0, 3), notes: [] };
    expect(digestOutcome(small, 3, 'stop-x-2', () => 'x')).toBe(small);
  });
});
