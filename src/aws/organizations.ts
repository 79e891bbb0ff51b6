import { ListParentsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { awsErrorCode, classifyAwsError } from './errors';

/** OUs nest at most five deep under the root; a longer walk means a broken answer, not a deeper tree. */
const MAX_DEPTH = 8;

/** Why an account's place in the organization could not be learnt, in a responder's words. */
export class OuLookupError extends Error {}

function why(err: unknown, account: string): string {
  const code = awsErrorCode(err);
  if (code === 'AWSOrganizationsNotInUseException') return "the bot's account is not in an AWS Organization";
  if (code === 'ChildNotFoundException') return `account ${account} is not in the bot's organization`;
  const e = classifyAwsError(err, 'organizations:ListParents');
  if (e.kind === 'access-denied') return `the bot may not call organizations:ListParents (${e.code}); it needs it, from the management or a delegated administrator account`;
  return e.message;
}

/**
 * The account's OUs, nearest first, ending with the root (`[ou-child, ou-parent, r-root]`), read
 * with the bot's own credentials: Organizations answers only in the management account or a
 * delegated administrator, never through a member's responder role.
 */
export function organizationPaths(maxAttempts: number): { lookup(account: string): Promise<string[]>; destroy(): void } {
  let client: OrganizationsClient | undefined;
  return {
    async lookup(account) {
      // Organizations is a global service served from us-east-1.
      client ??= new OrganizationsClient({ region: 'us-east-1', maxAttempts, retryMode: 'adaptive' });
      const path: string[] = [];
      let child = account;
      try {
        for (let i = 0; i < MAX_DEPTH; i++) {
          const parent = (await client.send(new ListParentsCommand({ ChildId: child }))).Parents?.[0];
          if (!parent?.Id) throw new OuLookupError(`Organizations named no parent for ${child}`);
          path.push(parent.Id);
          if (parent.Type === 'ROOT') return path;
          child = parent.Id;
        }
      } catch (err) {
        throw err instanceof OuLookupError ? err : new OuLookupError(why(err, account));
      }
      throw new OuLookupError(`no root within ${MAX_DEPTH} levels above account ${account}`);
    },
    destroy: () => client?.destroy(),
  };
}
