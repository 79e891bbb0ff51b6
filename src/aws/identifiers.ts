/**
 * What an AWS region, partition and account look like. A finding's values become console links,
 * SDK client cache keys and endpoints, so anything else is refused at intake and again before a
 * client is built.
 */
export const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
export const PARTITION_PATTERN = /^aws(-[a-z]+){0,3}$/;
export const ACCOUNT_PATTERN = /^\d{12}$/;

/**
 * The region whose CloudTrail event history holds a partition's global-service events (IAM, STS's
 * global endpoint, console sign-in): they are recorded there only, whatever region the caller used.
 */
export function globalEventRegion(region: string): string {
  if (region.startsWith('cn-')) return 'cn-north-1';
  if (region.startsWith('us-gov-')) return 'us-gov-west-1';
  return 'us-east-1';
}
