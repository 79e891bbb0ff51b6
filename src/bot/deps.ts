import type { RequestService } from '../requests/service';
import type { Config } from '../config/load';
import type { Authorizer } from './authz';
import type { IncidentService } from '../incidents/service';
import type { AutonomyService } from '../policy/service';

/** What the Slack listeners may use: the request pipeline and the access rules, nothing of AWS. */
export interface BotDeps {
  requests: RequestService;
  authz: Authorizer;
  /** Hunt templates validate against these names; unset = hunts are not configured. */
  athena?: Config['athena'];
  /** Queues a doctor run whose checklist is posted in `channel`; unset = the command says it is not available. */
  doctor?: (run: { channel: string; user: string }) => Promise<void>;
  /** Declared incidents (`/ir incident …`); unset in tests that do not need them. */
  incidents?: IncidentService;
  incidentConfig?: Config['incidents'];
  /** Hold, the kill switch and `/ir policy` (docs/autonomy.md). */
  autonomy?: AutonomyService;
}
