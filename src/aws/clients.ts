import { SecurityHubClient } from '@aws-sdk/client-securityhub';

/**
 * Clients are built once per service and region and reused (connection pooling, adaptive
 * client-side rate limiting that learns from throttling). Endpoints and credentials come from the
 * SDK's own chain (AWS_REGION, AWS_ENDPOINT_URL, profiles, roles): never overridden in code.
 */
export class AwsClients {
  private readonly securityHubClients = new Map<string, SecurityHubClient>();

  securityHub(region?: string): SecurityHubClient {
    const key = region ?? '';
    let client = this.securityHubClients.get(key);
    if (!client) {
      client = new SecurityHubClient({ region, retryMode: 'adaptive', maxAttempts: 6 });
      this.securityHubClients.set(key, client);
    }
    return client;
  }

  destroy(): void {
    for (const c of this.securityHubClients.values()) c.destroy();
    this.securityHubClients.clear();
  }
}
