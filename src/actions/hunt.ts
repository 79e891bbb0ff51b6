import { createHash } from 'node:crypto';
import { GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand, StopQueryExecutionCommand } from '@aws-sdk/client-athena';
import { csvCell } from '../csv';
import { ParamError } from '../hunts/params';
import { huntCancelRecord, parseHuntTarget, prepareHunt, type PreparedHunt } from '../hunts/templates';
import type { ActionOutcome, PlanView } from './results';
import { blockedPlan, FinalError, fingerprint, runSteps, type ActionContext, type ResponseAction } from './types';

/** The CSV a hunt uploads to its thread at most; the rest is read from Athena's output location. */
export const HUNT_FILE_MAX_CHARS = 1_000_000;


export const huntQueryRecord = (requestId: string) => `hunt:${requestId}`;

/**
 * Athena's ClientRequestToken (32-128 chars): the same for a re-run of one request and plan
 * revision, so a crash re-run gets the query already started; different for any other request or
 * revision. A hash, not the id padded to length: `hunt-x-7` and `hunt-x-70` padded with zeros are
 * the same string, and Athena would hand back the older query's results.
 */
export function queryToken(requestId: string, planRevision: number): string {
  return createHash('sha256').update(`${requestId}\n${planRevision}`).digest('hex');
}

const PIVOT_COLUMNS: Record<string, 'principal' | 'ip' | 'accessKey' | 'instance'> = {
  principal: 'principal',
  access_key: 'accessKey',
  sourceipaddress: 'ip',
  peer: 'ip',
  dstaddr: 'ip',
  instance: 'instance',
};

async function plan([target]: string[], ctx: ActionContext): Promise<PlanView> {
  if (!ctx.athena) return blockedPlan('hunts need the `athena:` section in the config');
  const { template, params } = parseHuntTarget(target);
  let h: PreparedHunt;
  try {
    h = prepareHunt(template, params, ctx.athena, ctx.now());
  } catch (err) {
    if (err instanceof ParamError) return blockedPlan(err.message);
    throw err;
  }
  const summary = [
    `${h.template.name}: ${h.template.title}`,
    ...Object.entries(h.values).map(([k, v]) => `${k} = ${v}`),
    `window ${h.window.from} → ${h.window.to} (partition filter), workgroup ${ctx.athena.workgroup}`,
  ];
  return { summary, warnings: [], steps: ['start the query', 'wait for Athena', 'read the results'], fingerprint: fingerprint(target), data: h };
}

async function execute(p: PlanView, ctx: ActionContext): Promise<ActionOutcome> {
  const { aws } = ctx;
  const h = p.data as PreparedHunt;
  const athena = ctx.athena!;
  let queryId = (await ctx.records.get<{ id: string }>(huntQueryRecord(ctx.requestId)))?.id;
  let stats: { bytes: number; ms: number; polls: number } = { bytes: 0, ms: 0, polls: 0 };
  const rows: string[][] = [];
  let columns: string[] = [];
  await runSteps(ctx, [
    {
      label: 'start the query',
      run: async () => {
        // A re-run after a crash follows the query already started instead of starting another.
        if (!queryId) {
          const out = await aws.send(
            aws.clients.athena,
            new StartQueryExecutionCommand({
              QueryString: h.sql,
              ExecutionParameters: h.parameters,
              WorkGroup: athena.workgroup,
              QueryExecutionContext: { Database: athena.database },
              ResultConfiguration: { OutputLocation: athena.outputLocation },
              ClientRequestToken: queryToken(ctx.requestId, ctx.planRevision),
            }),
          );
          queryId = out.QueryExecutionId!;
          await ctx.records.putIfAbsent(huntQueryRecord(ctx.requestId), { id: queryId });
        }
        return `query ${queryId} started`;
      },
    },
    {
      label: 'wait for Athena',
      run: async () => {
        const started = Date.now();
        const deadline = started + ctx.hunts.timeoutMinutes * 60_000;
        for (;;) {
          // Once a second at first, then every 9% of the run time so far: the result is late by at
          // most a second or ~10% of the run time, with far fewer checks on long queries.
          const elapsed = Date.now() - started;
          await ctx.sleep(Math.min(30_000, Math.max(1000, elapsed * 0.09)));
          const out = await aws.send(aws.clients.athena, new GetQueryExecutionCommand({ QueryExecutionId: queryId }));
          stats.polls += 1;
          const st = out.QueryExecution?.Status;
          if (st?.State === 'SUCCEEDED') {
            stats = { ...stats, bytes: out.QueryExecution?.Statistics?.DataScannedInBytes ?? 0, ms: out.QueryExecution?.Statistics?.TotalExecutionTimeInMillis ?? Date.now() - started };
            return `query finished after ${stats.polls} status check(s)`;
          }
          if (st?.State === 'FAILED' || st?.State === 'CANCELLED') throw new FinalError(`Athena ${st.State.toLowerCase()} the ${h.template.name} query: ${st.StateChangeReason ?? 'no reason given'}`);
          const cancel = await ctx.records.get<{ by: string }>(huntCancelRecord(ctx.requestId));
          if (cancel || Date.now() > deadline) {
            await aws.send(aws.clients.athena, new StopQueryExecutionCommand({ QueryExecutionId: queryId }));
            throw new FinalError(cancel ? `cancelled by ${cancel.by}; the query was stopped` : `still running after ${ctx.hunts.timeoutMinutes} min; the query was stopped`);
          }
          await ctx.progress(2, 3, `running ${Math.round((Date.now() - started) / 1000)} s`);
        }
      },
    },
    {
      label: 'read the results',
      run: async () => {
        let token: string | undefined;
        let first = true;
        do {
          const page = await aws.send(aws.clients.athena, new GetQueryResultsCommand({ QueryExecutionId: queryId, NextToken: token, MaxResults: 1000 }));
          const data = (page.ResultSet?.Rows ?? []).map((r) => (r.Data ?? []).map((d) => d.VarCharValue ?? ''));
          if (first) {
            columns = page.ResultSet?.ResultSetMetadata?.ColumnInfo?.map((c) => c.Name ?? '') ?? data[0] ?? [];
            data.shift(); // the first row of the first page repeats the column names
            first = false;
          }
          rows.push(...data);
          token = page.NextToken;
        } while (token && rows.length < 100_000);
        return `${rows.length} row(s) read`;
      },
    },
  ]);
  const resultLocation = `${athena.outputLocation.replace(/\/?$/, '/')}${queryId}.csv`;
  const pivots: NonNullable<ActionOutcome['pivots']> = [];
  for (const [i, c] of columns.entries()) {
    const kind = PIVOT_COLUMNS[c];
    if (!kind) continue;
    for (const v of [...new Set(rows.map((r) => r[i]).filter(Boolean))].slice(0, 5)) {
      pivots.push({ kind, value: v });
      // A user or role in the results can be contained from there too.
      if (kind === 'principal' && /:(user|role)\//.test(v)) pivots.push({ kind: 'deny', value: v });
    }
  }
  // The thread gets a bounded file; the whole result stays where Athena wrote it, so Redis (the
  // request and its audit entry) never holds more than this.
  let csv = [columns, ...rows].map((r) => r.map(csvCell).join(',')).join('\n');
  if (csv.length > HUNT_FILE_MAX_CHARS) csv = `${csv.slice(0, csv.lastIndexOf('\n', HUNT_FILE_MAX_CHARS))}\n# cut at ${HUNT_FILE_MAX_CHARS} characters: the full result is ${resultLocation}`;
  const cost = (stats.bytes / 1e12) * 5;
  return {
    ok: true,
    lines: [
      `${rows.length} row(s); ${(stats.bytes / 1e6).toFixed(1)} MB scanned; ran ${(stats.ms / 1000).toFixed(1)} s; about $${cost.toFixed(4)} at $5/TB; ${stats.polls} status check(s)`,
    ],
    notes: [`Full result: ${resultLocation} (kept by Athena's output location, not by ir-bot).`],
    table: { columns, rows: rows.slice(0, ctx.hunts.rowsInThread), total: rows.length },
    attachment: rows.length > ctx.hunts.rowsInThread ? { filename: `${h.template.name}-${ctx.requestId}.csv`, content: csv } : undefined,
    pivots: pivots.slice(0, 10),
    link: { url: `https://${aws.region}.console.aws.amazon.com/athena/home?region=${aws.region}#/query-editor/history/${queryId}`, label: 'Open the query in the Athena console' },
  };
}

export const huntAction: ResponseAction = { plan, execute };
