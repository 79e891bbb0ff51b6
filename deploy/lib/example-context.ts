/**
 * Stand-in values for `npm run deploy:synth` and the tests: synthesis checks the whole app
 * offline, without AWS credentials. Never deploy with these.
 */
export const EXAMPLE_CONTEXT = {
  region: 'us-east-1',
  configFile: 'config/ir-bot.example.yaml',
  domainName: 'ir-bot.example.com',
  certificateArn: 'arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-0000-0000-000000000000',
  cloudTrailBucket: 'example-cloudtrail-logs',
  vpcFlowLogsBucket: 'example-vpc-flow-logs',
  evidenceBucket: 'example-ir-evidence',
  toolsBucket: 'example-ir-tools',
  responderOrgUnitIds: 'ou-ab12-abcdefgh',
};
