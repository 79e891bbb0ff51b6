import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeAws } from '../support/fake-aws';
import { loadAws, normalizedAws, saveAws } from './aws-state';

const INSTANCE = 'i-0a1b2c3d4e5f60718';

/** The fault suite's comparison must see the faults it is there to catch. */
describe('the AWS stand-in kept in a file for the fault suite', () => {
  let dir: string;
  const made: FakeAws[] = [];
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'irbot-aws-state-'))));
  afterEach(() => {
    made.splice(0).forEach((a) => a.restore());
    rmSync(dir, { recursive: true, force: true });
  });

  function account(): FakeAws {
    const aws = FakeAws.withWebServer(INSTANCE);
    made.push(aws);
    return aws;
  }

  it('loads what it saved, and a finished stop stays finished after the process died', () => {
    const aws = account();
    aws.instances.get(INSTANCE)!.state = 'stopping';
    aws.roles.set('web-role', { policies: new Map([['p', '{}']]) });
    saveAws(aws, join(dir, 'a.json'));
    const back = loadAws(join(dir, 'a.json'));
    made.push(back);
    expect(back.instances.get(INSTANCE)!.state).toBe('stopped');
    expect(back.roles.get('web-role')!.policies.get('p')).toBe('{}');
    expect([...back.enis.keys()]).toEqual([...aws.enis.keys()]);
  });

  it('tells apart a doubled snapshot and an interface left in another group, but not other ids, request ids or times', () => {
    const a = account();
    a.snapshots.set('snap-1', { id: 'snap-1', volumeId: 'vol-e5f607180000001', description: '', tags: { 'ir-bot:request': 'req-A', at: '2026-12-01T07:00:00.000Z' }, polls: 2, state: 'completed', progress: '100%', sharedWith: [] });
    saveAws(a, join(dir, 'a.json'));
    const base = normalizedAws(join(dir, 'a.json'), ['req-A']);

    const b = account();
    b.snapshots.set('snap-9', { id: 'snap-9', volumeId: 'vol-e5f607180000001', description: '', tags: { 'ir-bot:request': 'req-B', at: '2026-12-01T07:05:00.000Z' }, polls: 2, state: 'completed', progress: '100%', sharedWith: [] });
    saveAws(b, join(dir, 'b.json'));
    expect(normalizedAws(join(dir, 'b.json'), ['req-B'])).toEqual(base);

    b.snapshots.set('snap-10', { ...b.snapshots.get('snap-9')!, id: 'snap-10' });
    saveAws(b, join(dir, 'b.json'));
    expect(normalizedAws(join(dir, 'b.json'), ['req-B'])).not.toEqual(base);
    b.snapshots.delete('snap-10');

    b.enis.get([...b.enis.keys()][0])!.groups = ['sg-0000000000000ssh1'];
    saveAws(b, join(dir, 'b.json'));
    expect(normalizedAws(join(dir, 'b.json'), ['req-B'])).not.toEqual(base);
  });
});
