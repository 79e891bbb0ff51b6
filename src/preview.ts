/**
 * `npm run preview -- <event.json>`: the route each finding in an EventBridge event would take
 * and its card as Block Kit JSON, without Slack or Redis. Uses IR_CONFIG for routing.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { renderCard } from './views/card';
import { fileSchema } from './config/schema';
import { parseEvents } from './findings/events';
import { routeFinding } from './findings/route';
import { customActionPlan } from './requests/custom-action';

export function preview(eventText: string, configText: string): { output: unknown; ok: boolean } {
  const file = fileSchema.safeParse(parseDocument(configText).toJS() ?? {});
  if (!file.success) {
    return { ok: false, output: { error: 'config file is invalid', problems: file.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) } };
  }
  let body: unknown;
  try {
    body = JSON.parse(eventText);
  } catch (err) {
    return { ok: false, output: { error: `invalid JSON: ${(err as Error).message}` } };
  }
  const parsed = parseEvents(body, 1000);
  if ('error' in parsed) return { ok: false, output: { error: parsed.error } };
  return {
    ok: parsed.findings.length > 0,
    output: {
      findings: parsed.findings.map((f) => {
        const route = routeFinding(f, file.data.channels);
        return {
          id: f.id,
          type: f.type,
          severity: f.severity,
          route: { channel: route.channel, matched: route.matched === 'default' ? 'channels.default' : `channels.routes[${route.matched}]` },
          card: renderCard([f], { storm: false, listLimit: file.data.storm.listLimit }),
        };
      }),
      rejected: parsed.rejected,
      ...(parsed.customActions.length > 0
        ? {
            customActions: parsed.customActions.map((e) => {
              const { targets, ...plan } = customActionPlan(file.data.securityHub, e, parsed.findings.filter((f) => e.findingKeys.includes(f.key)));
              // Each would be a request needing approval, asked by the custom action.
              return { ...plan, requests: targets.map((t) => ({ action: plan.response, target: t.target, findingId: t.finding.id, needsApproval: true })) };
            }),
          }
        : {}),
    },
  };
}

if (require.main === module) {
  const [eventPath] = process.argv.slice(2);
  const configPath = process.env.IR_CONFIG ?? 'config/ir-bot.example.yaml';
  if (!eventPath) {
    process.stderr.write('usage: npm run preview -- <event.json>   (routing from IR_CONFIG, default config/ir-bot.example.yaml)\n');
    process.exit(2);
  }
  try {
    const { output, ok } = preview(readFileSync(eventPath, 'utf8'), readFileSync(configPath, 'utf8'));
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
    process.exit(ok ? 0 : 1);
  } catch (err) {
    process.stderr.write(`preview failed: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
