import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The Linux script of our SSM document (deploy/ssm/memory-capture.json), run by sh as the agent
 * would (parameters as SSM_* environment variables), with stand-ins for curl, AVML and df.
 */
const doc = JSON.parse(readFileSync(join(__dirname, '../deploy/ssm/memory-capture.json'), 'utf8'));
const linux = (doc.mainSteps as { name: string; inputs: { runCommand: string[] } }[]).find((s) => s.name === 'linux')!.inputs.runCommand.join('\n');

const TOOL_URL = 'https://ir-tools.s3.us-east-1.amazonaws.com/avml/avml?X-Amz-Signature=tool-secret';
const UPLOAD_URL = 'https://ir-evidence.s3.eu-west-1.amazonaws.com/memory/x.lime?X-Amz-Signature=upload-secret';

let dir: string;
let bin: string;
let work: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ir-memory-doc-'));
  bin = join(dir, 'bin');
  work = join(dir, 'var-tmp');
  execFileSync('mkdir', ['-p', bin, work]);
  const stub = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  // curl: records its arguments and its config on stdin; -o writes a stand-in AVML, -T keeps the upload.
  stub(
    'curl',
    `echo "$@" >> "${dir}/curl-args"; cat >> "${dir}/curl-config"
out=""; up=""; while [ $# -gt 0 ]; do case "$1" in -o) out="$2"; shift;; -T) up="$2"; shift;; esac; shift; done
if [ -n "$out" ]; then printf '#!/bin/bash\\nhead -c 3000000 /dev/urandom > "$2"\\n' > "$out"; fi
if [ -n "$up" ]; then cp "$up" "${dir}/uploaded"; fi`,
  );
  stub('df', `if [ -n "$FAKE_FREE_KB" ]; then printf 'Filesystem 1024-blocks Used Available Capacity Mounted\\nfake 1 1 %s 1%% /\\n' "$FAKE_FREE_KB"; else exec /usr/bin/df "$@"; fi`);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The agent runs the script with sh: bash on Amazon Linux, dash on Debian and Ubuntu. */
let shell = 'bash';
function run(params: Record<string, string>, extra: Record<string, string> = {}) {
  const env = { PATH: `${bin}:/usr/bin:/bin`, ...Object.fromEntries(Object.entries(params).map(([k, v]) => [`SSM_${k}`, v])), ...extra };
  const r = spawnSync(shell, ['-c', linux], { env, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const capture = (over: Record<string, string> = {}) => ({ action: 'capture', captureId: 'memory-i-1-1', workDir: work, toolUrl: TOOL_URL, minFreeMiB: '16', ...over });

describe.each(['bash', 'dash'])('the SSM document memory capture runs, under %s', (sh) => {
  beforeEach(() => {
    shell = sh;
  });

  it('captures to the scratch directory on disk, prints the hash, then uploads with the signed checksum and If-None-Match, the URL never on a command line', async () => {
    const c = run(capture());
    expect([c.code, c.err]).toEqual([0, expect.not.stringContaining('IRBOT error')]);
    const m = /^IRBOT captured sha256=([0-9a-f]{64}) bytes=(\d+)$/m.exec(c.out)!;
    expect(m).not.toBeNull();
    const image = join(work, 'ir-memory-memory-i-1-1', 'image.lime');
    expect(execFileSync('sha256sum', [image], { encoding: 'utf8' }).split(' ')[0]).toBe(m[1]);
    // The tool is gone once it ran; the image waits for the upload.
    expect(existsSync(join(work, 'ir-memory-memory-i-1-1', 'avml'))).toBe(false);

    const b64 = Buffer.from(m[1], 'hex').toString('base64');
    const u = run({ action: 'upload', captureId: 'memory-i-1-1', workDir: work, uploadUrl: UPLOAD_URL, sha256: b64 });
    expect(u.code).toBe(0);
    expect(u.out).toContain('IRBOT uploaded');
    expect(execFileSync('sha256sum', [join(dir, 'uploaded')], { encoding: 'utf8' }).split(' ')[0]).toBe(m[1]);
    const args = readFileSync(join(dir, 'curl-args'), 'utf8');
    expect(args).toContain(`-H x-amz-checksum-sha256: ${b64} -H If-None-Match: *`);
    expect(args).not.toContain('X-Amz-Signature');
    expect(readFileSync(join(dir, 'curl-config'), 'utf8')).toBe(`url = "${TOOL_URL}"\nurl = "${UPLOAD_URL}"\n`);
    expect(existsSync(join(work, 'ir-memory-memory-i-1-1'))).toBe(false);
  });

  it('refuses a tmpfs scratch directory, where the image would sit in the memory being captured', () => {
    if (!existsSync('/dev/shm')) throw new Error('no /dev/shm (tmpfs) on this machine to try');
    const r = run(capture({ workDir: '/dev/shm' }));
    expect(r.code).toBe(4);
    expect(r.err).toContain('IRBOT error=/dev/shm is tmpfs: the image would sit in the memory being captured');
    expect(existsSync(join(dir, 'curl-args'))).toBe(false);
  });

  it('checks free space before fetching anything', () => {
    const r = run(capture({ minFreeMiB: '16640' }), { FAKE_FREE_KB: String(900 * 1024) });
    expect(r.code).toBe(5);
    expect(r.err).toContain(`IRBOT error=${work} has 900 MiB free; the capture needs 16640 MiB`);
    expect(existsSync(join(dir, 'curl-args'))).toBe(false);
  });

  it('will not upload what it did not capture', () => {
    const r = run({ action: 'upload', captureId: 'never-captured', workDir: work, uploadUrl: UPLOAD_URL, sha256: 'A'.repeat(43) + '=' });
    expect(r.code).toBe(6);
    expect(r.err).toContain('IRBOT error=no captured image');
  });
});
