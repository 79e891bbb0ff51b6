import { buildApp } from '../lib/app';

// `npx cdk` (deploy/cdk.json) runs this; context comes from -c and cdk.json.
try {
  buildApp().app.synth();
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
