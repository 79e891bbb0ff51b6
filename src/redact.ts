import { gunzipSync } from 'node:zlib';

/**
 * Secrets that turn up in instance user data (and other text copied from a customer's systems)
 * are replaced before the text is shown in Slack or uploaded there: everyone in the channel, and
 * Slack itself, would otherwise hold them. What is kept is enough to recognise the line.
 */
const MARK = '[redacted]';
/** Decoded base64 longer than this is not inspected (a binary, not a config file). */
const MAX_DECODED = 256 * 1024;

/**
 * Base64 the text may carry another text in: cloud-init `write_files` with `encoding: b64` (or
 * `gz+b64`), `echo … | base64 -d`. One run on a line, or a YAML block of such lines.
 */
const BASE64_RUN = /(?<![A-Za-z0-9+/=])(?:[A-Za-z0-9+/]{4}){5,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?(?:\n[ \t]*(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)*(?![A-Za-z0-9+/=])/g;

/** The text a base64 run holds (gunzipped when it is gzip), or undefined when it is not text. */
function decodedText(run: string): string | undefined {
  let bytes = Buffer.from(run.replace(/\s+/g, ''), 'base64');
  if (bytes.length > MAX_DECODED) return undefined;
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: MAX_DECODED });
    } catch {
      return undefined;
    }
  }
  const text = bytes.toString('utf8');
  // Mostly printable, or it is binary that only looks like base64 by chance.
  const printable = text.replace(/[^\t\n\r\x20-\x7e]/g, '').length;
  return text.length > 0 && printable / text.length > 0.95 ? text : undefined;
}

const RULES: [RegExp, string | ((...m: string[]) => string)][] = [
  // Base64 whose decoded text holds a secret: the whole run goes (a partial run would still decode).
  [BASE64_RUN, (m: string) => {
    const text = decodedText(m);
    return text !== undefined && redactSecrets(text) !== text ? `${MARK} (base64 text holding a secret)` : m;
  }],
  // PEM private keys, whole block (or from BEGIN to the end of the text when cut short).
  [/-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g, (_m, kind: string) => `-----BEGIN ${kind}PRIVATE KEY----- ${MARK} -----END ${kind}PRIVATE KEY-----`],
  // user:password@ in any URL-shaped connection string (postgres://, mongodb+srv://, redis://…).
  [/\b([a-z][a-z0-9+.-]*:\/\/)([^:/\s@]*):([^@\s/]+)@/gi, (_m, scheme: string, user: string) => `${scheme}${user}:${MARK}@`],
  // key=value and key: value where the key names a secret (AWS_SECRET_ACCESS_KEY=…, "password": "…", Password=…;).
  [
    /\b([\w.-]*(?:password|passwd|passphrase|(?<![a-z])pass(?![a-z])|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)s?[\w.-]*)(["']?\s*[:=]\s*)("[^"\n]*"|'[^'\n]*'|[^\s;,&"']+)/gi,
    (_m, key: string, sep: string) => `${key}${sep}${MARK}`,
  ],
  // user:password after curl's -u/--user, wget's --http-user style or --proxy-user: the user stays.
  [/((?:\s|^)(?:-u|--user|--proxy-user|-U)(?:=|\s*))(["']?)([^\s:"']*):([^\s"']+)\2/gm, (_m, flag: string, q: string, user: string) => `${flag}${q}${user}:${MARK}${q}`],
  // Command-line flags: --password xyz, --token=xyz, --http-password xyz, -p'xyz' (mysql).
  [/(--?(?:(?:http|ftp|proxy)-)?(?:password|passwd|pass|token|secret|api-key)(?:=|\s+))("[^"\n]*"|'[^'\n]*'|\S+)/gi, (_m, flag: string) => `${flag}${MARK}`],
  [/(\bmysql\b[^\n]*?\s-p)(\S+)/g, (_m, flag: string) => `${flag}${MARK}`],
  // Authorization headers.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, (_m, kind: string) => `${kind} ${MARK}`],
  // Well-known token formats: Slack, GitHub, GitLab, Stripe-like, JWTs.
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/g, MARK],
  [/\bgh[pousr]_[A-Za-z0-9]{30,}/g, MARK],
  [/\bglpat-[A-Za-z0-9_-]{20,}/g, MARK],
  [/\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}/g, MARK],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, MARK],
  // AWS access key ids (the prefix and last four stay, to match CloudTrail) and bare 40-character secret keys.
  [/\b(AKIA|ASIA)[A-Z0-9]{12}([A-Z0-9]{4})\b/g, (_m, head: string, tail: string) => `${head}…${tail}${MARK}`],
  // Mixed case and digits: a secret key's look (a hex digest has no capitals).
  [/(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])/g, (m: string) => (/[A-Z]/.test(m) && /[a-z]/.test(m) && /\d/.test(m) ? MARK : m)],
];

export function redactSecrets(text: string): string {
  let out = text;
  for (const [re, to] of RULES) out = out.replace(re, to as never);
  return out;
}
