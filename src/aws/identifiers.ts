/**
 * What an AWS region, partition and account look like. A finding's values become console links,
 * SDK client cache keys and endpoints, so anything else is refused at intake and again before a
 * client is built.
 */
export const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
export const PARTITION_PATTERN = /^aws(-[a-z]+){0,3}$/;
export const ACCOUNT_PATTERN = /^\d{12}$/;
