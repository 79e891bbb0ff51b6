import type { RequestService } from '../requests/service';
import type { Authorizer } from './authz';

/** What the Slack listeners may use: the request pipeline and the access rules, nothing of AWS. */
export interface BotDeps {
  requests: RequestService;
  authz: Authorizer;
}
