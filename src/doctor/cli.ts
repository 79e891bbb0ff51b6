import { loadConfigOrExit } from '../config/load';
import { runDoctor, sdkDoctorAws } from './checks';
import { doctorText } from './report';

/**
 * `npm run doctor [-- --json]`: the preflight from a terminal or CI. Exit 0 when every check
 * passed, 1 when one failed, 2 when the config itself is wrong.
 */
async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const config = loadConfigOrExit(process.env, 2);
  const report = await runDoctor(config, sdkDoctorAws(config));
  process.stdout.write(`${json ? JSON.stringify(report, null, 2) : doctorText(report)}\n`);
  process.exit(report.ok ? 0 : 1);
}

main().catch((err: Error) => {
  process.stderr.write(`ir-bot doctor failed: ${err.message}\n`);
  process.exit(2);
});
