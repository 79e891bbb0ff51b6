import type { RequestService } from '../requests/service';
import type { Config } from '../config/load';
import type { Authorizer } from './authz';
import type { AutonomyService } from '../policy/service';

/** What the Slack listeners may use: the request pipeline and the access rules, nothing of AWS. */
export interface BotDeps {
  requests: RequestService;
  authz: Authorizer;
  /** Hunt templates validate against these names; unset = hunts are not configured. */
  athena?: Config['athena'];
  /** Hold, the kill switch and `/ir policy` (docs/autonomy.md). */
  autonomy?: AutonomyService;
}
