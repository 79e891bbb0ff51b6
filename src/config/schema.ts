import { z } from 'zod';

/** Slack conversation IDs: public (C), private (G) channels. Names are refused so the finding→message map stays stable. */
const channelId = z
  .string()
  .regex(/^[CG][A-Z0-9]{2,}$/, 'must be a Slack channel ID such as C01ALERTS (not a #name)');
const subjectId = z
  .string()
  .regex(/^[UWS][A-Z0-9]{2,}$/, 'must be a Slack user ID (U…/W…) or user-group ID (S…)');
const awsAccount = z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account ID');
/** What a Security Hub custom action may ask for (each acts on the findings' own resources). */
export const CUSTOM_ACTION_RESPONSES = ['isolate', 'snapshot', 'stop', 'disable-key', 'deny-principal', 'revoke-sessions'] as const;
/** `"*"` alone means everyone in the workspace (still subject to the guest and other-workspace rules). */
const subjectList = z
  .array(z.union([z.literal('*'), subjectId]))
  .refine((l) => !l.includes('*') || l.length === 1, { message: '"*" (everyone) cannot be mixed with IDs' });
/** A principal the bot must never contain: an IAM user/role ARN, or a role/user name. */
const protectedPrincipal = z
  .string()
  .regex(/^(arn:aws[a-z-]*:iam::\d{12}:(user|role)\/[\w+=,.@/-]{1,512}|[\w+=,.@-]{1,128})$/, 'must be an IAM user or role ARN, or a user or role name');
/** Actions the pipeline knows; `requireApproval` may only name these. */
export const ACTION_NAMES = [
  'isolate',
  'release',
  'snapshot',
  'stop',
  'hunt',
  'disable-key',
  'deny-principal',
  'revoke-sessions',
  'enable-key',
  'allow-principal',
  'restore-sessions',
  'memory',
  'blast-radius',
  'terminate',
  'delete-keys',
  'revoke-rules',
] as const;

/** What `access.requireApproval` may name: the pipeline's actions, and Suppress on a card. */
export const APPROVABLE = [...ACTION_NAMES, 'suppress'] as const;

const route = z
  .object({
    minSeverity: z.number().min(0).max(10).optional(),
    findingTypePrefix: z.string().min(1).optional(),
    account: awsAccount.optional(),
    channel: channelId,
  })
  .strict()
  .refine((r) => r.minSeverity !== undefined || r.findingTypePrefix !== undefined || r.account !== undefined, {
    message: 'a route needs at least one of minSeverity, findingTypePrefix, account (use channels.default for the rest)',
  });

const severityLabel = z.enum(['INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL']);

/** What a policy rule may run on its own: containment and evidence, never eradication. */
export const AUTO_ACTIONS = ['isolate', 'snapshot', 'memory', 'disable-key', 'revoke-sessions'] as const;
export const POLICY_MODES = ['notify', 'approve', 'contain-unless-vetoed', 'contain', 'shadow'] as const;
/** `key=value` (value `*`: any value), as tags are written in the config and in messages. */
const tagPair = z.string().regex(/^[^=\s][^=]{0,127}=.{1,256}$/, 'must be key=value, e.g. env=dev (value * for any value)');
const policyRule = z
  .object({
    /** Named in the thread, the audit entry and /metrics. */
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'must be lower-case letters, digits and - (at most 40)'),
    /** Every condition given must hold (AND); a list matches any of its items (OR). */
    match: z
      .object({
        /** Finding types: exact, or with `*` as a wildcard (`CryptoCurrency:*`, `*:EC2/*`). */
        types: z.array(z.string().min(1).max(200)).min(1).optional(),
        minSeverity: z.number().min(0).max(10).optional(),
        maxSeverity: z.number().min(0).max(10).optional(),
        severityLabels: z.array(severityLabel).min(1).optional(),
        /** 0-100 (ASFF Confidence, OCSF confidence_score); a finding that gives none does not match. */
        minConfidence: z.number().min(0).max(100).optional(),
        /** Product name (GuardDuty, Security Hub, Inspector…; case, spaces and dashes ignored) or wire format (asff, ocsf). */
        products: z.array(z.string().min(1).max(100)).min(1).optional(),
        accounts: z.array(awsAccount).min(1).optional(),
        /** Organizations OUs: the account's parent OU or any OU above it (looked up by the worker, autonomy.ouCacheSeconds). */
        ou: z.array(z.string().regex(/^ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}$/, 'must be an Organizations OU id such as ou-ab12-cd34ef56')).min(1).optional(),
        regions: z.array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'must be an AWS region such as us-east-1')).min(1).optional(),
        /** The instance's tags as the finding reports them; all must hold. */
        tags: z.array(tagPair).min(1).optional(),
        /** GuardDuty Extended Threat Detection: the finding is (true) or is not (false) an attack sequence. */
        attackSequence: z.boolean().optional(),
      })
      .strict()
      .prefault({}),
    mode: z.enum(POLICY_MODES),
    /** What the rule runs on its own (contain modes and shadow only). */
    actions: z.array(z.enum(ACTION_NAMES)).default([]),
    /** contain-unless-vetoed: how long the thread counts down before the actions run. */
    windowSeconds: z.number().int().min(1).max(3600).optional(),
  })
  .strict();

/** The YAML file named by IR_CONFIG. Defaults are the values a new deployment gets. */
export const fileSchema = z
  .object({
    channels: z
      .object({
        default: channelId,
        /** First match wins; conditions inside one route are ANDed. */
        routes: z.array(route).default([]),
      })
      .strict(),
    access: z
      .object({
        /** Empty or missing = nobody may act (fail closed); `["*"]` = everyone in the workspace. */
        responders: subjectList.default([]),
        /** Empty = nobody may approve: actions that need approval cannot run. */
        approvers: subjectList.default([]),
        twoPersonRule: z.boolean().default(true),
        /**
         * Memory capture (runs a script as root on the instance) and Suppress (hides every finding
         * of a card in Security Hub) wait for an approver by default too.
         */
        requireApproval: z.array(z.enum(APPROVABLE)).default(['isolate', 'stop', 'disable-key', 'deny-principal', 'revoke-sessions', 'memory', 'suppress']),
        /** An undo (release, enable-key, allow, restore-sessions) needs approval when its action does. */
        undoNeedsApproval: z.boolean().default(true),
        /** Guests (single- and multi-channel) may act. */
        allowGuests: z.boolean().default(false),
        /** Users of another workspace or enterprise (Slack Connect shared channels) may act. */
        allowOtherWorkspaces: z.boolean().default(false),
        /**
         * When Slack keeps failing to list a user group's members, the last answer is used for at
         * most this long; after that clicks that depend on it are refused.
         */
        membershipMaxStaleMinutes: z.number().int().min(1).max(24 * 60).default(15),
        /** Break-glass principals that deny, revoke-sessions and disable-key refuse to touch. */
        protectedPrincipals: z.array(protectedPrincipal).default([]),
        /** An approval card nobody decided on expires after this long; the request must be made again. */
        approvalTimeoutMinutes: z.number().int().min(1).max(24 * 60).default(30),
      })
      .strict()
      .prefault({}),
    isolation: z
      .object({
        quarantineGroupName: z.string().regex(/^[A-Za-z0-9 ._\-:/()#,@[\]+=&;{}!$*]{1,255}$/).default('ir-quarantine'),
        disassociateElasticIp: z.boolean().default(true),
        detachFromAutoScaling: z.boolean().default(true),
        deregisterFromTargetGroups: z.boolean().default(true),
        /** An instance carrying this tag key is flagged in the plan as exempt from isolation. */
        exemptionTagKey: z.string().min(1).max(128).default('ir:exempt'),
        /**
         * A VPC's quarantine and all-traffic groups, once reconciled and read back, count as
         * verified for this long: concurrent isolations in the VPC share that one reconcile instead
         * of queueing to repeat it. Each isolation's verify still re-reads both groups and redoes
         * the reconcile when they differ. 0 = reconcile in every isolation.
         */
        groupsVerifiedSeconds: z.number().min(0).max(300).default(30),
        /** What `release` puts back besides the security groups and protection settings. */
        release: z
          .object({
            restoreElasticIps: z.boolean().default(true),
            reattachAutoScaling: z.boolean().default(true),
            reregisterTargets: z.boolean().default(true),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    snapshot: z
      .object({
        /** Completed snapshots are shared with this account (createVolumePermission). */
        forensicAccount: awsAccount.optional(),
        /**
         * A terminate accepts a snapshot made for another case or request (e.g. a bare `/ir snapshot`
         * before `/ir terminate`) only this recent; one of its own case at any age.
         */
        otherCaseMaxAgeHours: z.number().min(1).max(24 * 90).default(72),
        /**
         * Customer-managed KMS key (ARN or alias ARN) the forensic account can use: snapshots of
         * volumes encrypted with a key that cannot be shared are copied with it, then shared.
         */
        copyKmsKeyId: z.string().regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[\w/+=,.@-]+$/, 'must be a KMS key or alias ARN').optional(),
        /** First wait between progress checks; doubles up to the maximum. */
        pollIntervalMs: z.number().int().min(10).max(600_000).default(5000),
        maxPollIntervalMs: z.number().int().min(10).max(600_000).default(60_000),
        /** How long one job run waits for snapshots before the wait goes back to Redis as a delayed job. */
        holdJobSeconds: z.number().int().min(0).max(600).default(60),
        /** Give up waiting (the snapshots carry on in AWS) after this long. */
        timeoutMinutes: z.number().int().min(1).max(24 * 60).default(360),
      })
      .strict()
      .prefault({}),
    stop: z
      .object({
        pollIntervalMs: z.number().int().min(10).max(600_000).default(5000),
        timeoutMinutes: z.number().int().min(1).max(120).default(15),
      })
      .strict()
      .prefault({}),
    memory: z
      .object({
        /**
         * Bucket the memory images go to, as s3://<bucket>/<prefix><case>/<instance>/<request>.<ext>.
         * Unset = memory capture is not configured (the plan says so and nothing runs).
         */
        evidenceBucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name').optional(),
        prefix: z.string().regex(/^([\w!.*'()-]+\/)*$/, "must be empty or end with / (letters, digits and !-_.*'() only)").default('memory/'),
        /** Capture tools in S3 (the instance downloads them through a presigned URL: no internet, no instance credentials needed). */
        tools: z
          .object({
            linux: z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+$/, 'must be an s3://bucket/key URL of the AVML binary').optional(),
            windows: z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+$/, 'must be an s3://bucket/key URL of the winpmem executable').optional(),
          })
          .strict()
          .prefault({}),
        /** Rough capture-plus-upload rate, for the duration the plan quotes. */
        estimatedMiBPerSecond: z.number().min(1).max(10_000).default(50),
        pollIntervalMs: z.number().int().min(10).max(600_000).default(5000),
        maxPollIntervalMs: z.number().int().min(10).max(600_000).default(30_000),
        /** The capture command is stopped by SSM after this long. */
        timeoutMinutes: z.number().int().min(5).max(48 * 60).default(180),
        /** Region of the evidence bucket: the upload URL is signed for it. Unset = the instance's region. */
        evidenceRegion: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region, e.g. eu-west-1').optional(),
        /** Our SSM document (deploy/ssm/memory-capture.json, created by deploy/); the policy allows SendCommand with it only. */
        ssmDocument: z.string().regex(/^[a-zA-Z0-9_.-]{3,128}$/, 'must be an SSM document name').refine((n) => !/^(aws|amazon)/i.test(n), 'AWS reserves names starting with aws or amazon').default('ir-bot-memory-capture'),
        /**
         * Where the image waits on the instance between capture and upload: on disk, never tmpfs
         * (a tmpfs image would sit in the very memory being captured). The script refuses tmpfs and
         * checks free space (the instance's memory plus 256 MiB) first.
         */
        scratchDir: z
          .object({
            linux: z.string().regex(/^\/[A-Za-z0-9/_.-]*$/, 'must be an absolute path (letters, digits, / _ . - only)').default('/var/tmp'),
            windows: z.string().regex(/^[A-Za-z]:\\[A-Za-z0-9\\_. -]*$/, 'must be an absolute path such as C:\\Windows\\Temp').default('C:\\Windows\\Temp'),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    blastRadius: z
      .object({
        /** CloudTrail event history keeps 90 days. */
        lookbackDays: z.number().int().min(1).max(90).default(90),
        /** LookupEvents allows 2 requests per second per account and region. */
        lookupsPerSecond: z.number().min(0.1).max(2).default(2),
        /** Stop reading after this many events (the list then says it is partial). */
        maxEvents: z.number().int().min(50).max(100_000).default(20_000),
      })
      .strict()
      .prefault({}),
    hunts: z
      .object({
        /** A query still running after this long is stopped (StopQueryExecution). */
        timeoutMinutes: z.number().min(0.01).max(120).default(15),
        /** Rows shown in the thread; the full result goes in a CSV file. */
        rowsInThread: z.number().int().min(1).max(40).default(15),
      })
      .strict()
      .prefault({}),
    iam: z
      .object({
        /** IAM is eventually consistent: a change is re-read this many times, waits doubling, before it is reported. */
        verifyAttempts: z.number().int().min(1).max(20).default(6),
        verifyIntervalMs: z.number().int().min(10).max(60_000).default(1000),
      })
      .strict()
      .prefault({}),
    story: z
      .object({
        /** Post the instance's story (details, user data, who launched it) in each new card's thread. */
        enabled: z.boolean().default(true),
        /** AMI owners besides Amazon and the instance's own account that are not flagged. */
        trustedAmiOwners: z.array(awsAccount).default([]),
        /** CloudTrail LookupEvents window for "who launched it" (CloudTrail keeps 90 days). */
        lookbackDays: z.number().int().min(1).max(90).default(90),
        /** User data longer than this many lines is attached as a file. */
        attachUserDataOverLines: z.number().int().min(1).max(1000).default(15),
        /**
         * A card with up to this many instances gets one full story per instance in its thread;
         * beyond it, compact stories (several instances per message) keep within the channel's
         * ~1 post/s.
         */
        fullStoriesPerCard: z.number().int().min(1).max(50).default(10),
        /** Instances per compact story message. */
        compactBatch: z.number().int().min(1).max(20).default(10),
        /** Upload long user data as a file at all (secrets in it are redacted either way). */
        uploadUserData: z.boolean().default(true),
        /** Each section (AMI, groups, user data, role, launcher) gets this long; past it: "could not check: timed out". */
        sectionTimeoutSeconds: z.number().min(0.1).max(120).default(10),
        /** CloudTrail lookups (an instance's launch, a key's other launches) are reused this long. */
        lookupCacheSeconds: z.number().int().min(0).max(3600).default(300),
      })
      .strict()
      .prefault({}),
    aws: z
      .object({
        /**
         * Role the worker assumes to act in an account: one ARN with an optional `{account}`
         * placeholder, or a map from account ID to ARN. Unset = the worker's own credentials.
         */
        responderRoleArn: z
          .union([
            z.string().regex(/^arn:aws[a-z-]*:iam::(\d{12}|\{account\}):role\/[\w+=,.@\/-]+$/, 'must be an IAM role ARN (may use {account})'),
            z.record(awsAccount, z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]+$/, 'must be an IAM role ARN')),
          ])
          .optional(),
        /**
         * Our own token bucket per account and region in front of mutating EC2/ELB/Auto Scaling
         * calls. EC2's bucket is 200 deep refilling 5/s and is shared with every other tool in the
         * account, so the defaults leave room.
         */
        mutationsPerSecond: z.number().min(0.1).max(100).default(4),
        mutationBurst: z.number().int().min(1).max(1000).default(100),
        /**
         * CloudTrail LookupEvents calls per second per account and region, shared by every worker
         * through Redis (src/aws/cloudtrail-budget.ts). AWS allows 2 for all callers together; the
         * default keeps 10% in hand, because a call reaches AWS a little after it took its turn
         * (event-loop and network jitter) and paced at exactly 2/s some land three in one second.
         */
        cloudTrailLookupsPerSecond: z.number().min(0.1).max(2).default(1.8),
        /** SDK attempts per call (adaptive retry: backs off on throttling). */
        maxAttempts: z.number().int().min(1).max(20).default(6),
        /** Job attempts for an action when AWS keeps throttling or fails transiently. */
        jobAttempts: z.number().int().min(1).max(20).default(5),
        jobBackoffMs: z.number().int().min(10).max(600_000).default(5000),
      })
      .strict()
      .prefault({}),
    athena: z
      .object({
        workgroup: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/),
        database: z.string().regex(/^[a-z0-9_]{1,255}$/, 'must be lower-case letters, digits and _'),
        outputLocation: z.string().regex(/^s3:\/\/[a-z0-9.\-]{3,63}(\/.*)?$/, 'must be an s3:// URL'),
        tables: z
          .object({
            cloudtrail: z.string().regex(/^[a-z0-9_]{1,255}$/, 'must be lower-case letters, digits and _'),
            vpcflow: z.string().regex(/^[a-z0-9_]{1,255}$/, 'must be lower-case letters, digits and _'),
          })
          .strict(),
        /** Partition column (yyyy/MM/dd strings) per table; every hunt filters it on its window. */
        partitionColumns: z
          .object({
            cloudtrail: z.string().regex(/^[a-z0-9_]{1,255}$/, 'must be lower-case letters, digits and _').default('timestamp'),
            vpcflow: z.string().regex(/^[a-z0-9_]{1,255}$/, 'must be lower-case letters, digits and _').default('day'),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .optional(),
    /** `/ir doctor` and `npm run doctor`: the preflight of every account and region before an incident. */
    doctor: z
      .object({
        /** Accounts to check besides those the config names (routes, aws.responderRoleArn) and the bot's own. */
        accounts: z.array(awsAccount).default([]),
        /** Regions to check; empty = AWS_REGION and securityHub.poll.regions. */
        regions: z.array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as us-east-1')).default([]),
        /** Also every ACTIVE account of the AWS Organization (organizations:ListAccounts; run from the management or a delegated administrator account). */
        organization: z.boolean().default(false),
        /** The URL EventBridge must call (https://YOUR-HOST/aws/events); unset = any API destination ending in /aws/events counts. */
        ingestUrl: z.string().regex(/^https:\/\/[^\s]+\/aws\/events$/, 'must be https://YOUR-HOST/aws/events').optional(),
        /** A run every intervalHours that posts in `channel` only when a check changed since the last run. */
        schedule: z
          .object({
            enabled: z.boolean().default(false),
            intervalHours: z.number().min(1).max(24 * 7).default(24),
            channel: channelId.optional(),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    securityHub: z
      .object({
        /**
         * Security Hub custom action (its name, or the id at the end of its ARN) → the request made
         * for each matching resource of every finding the analyst selected. Always needs approval.
         */
        customActions: z.record(z.string().min(1).max(64), z.enum(CUSTOM_ACTION_RESPONSES)).default({}),
        /**
         * One custom action event asks for at most this many requests (a resource per finding);
         * over it, nothing is asked: an approval card per resource would flood the approvers.
         */
        maxRequestsPerCustomAction: z.number().int().min(1).max(200).default(10),
        poll: z
          .object({
            enabled: z.boolean().default(false),
            intervalSeconds: z.number().int().min(30).max(3600).default(60),
            /** Regions whose Security Hub is read; empty = the SDK's region (AWS_REGION). */
            regions: z.array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as us-east-1')).default([]),
            minSeverityLabel: severityLabel.default('MEDIUM'),
            /** Security Hub ProductName values to import. */
            products: z.array(z.string().min(1)).min(1).default(['GuardDuty']),
            /** How far back the first poll looks when no cursor is stored. */
            initialLookbackMinutes: z.number().int().min(1).max(7 * 24 * 60).default(60),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    cards: z
      .object({
        /**
         * Instance tags that mark production (`Key` or `Key=Value`, e.g. `Environment=prod`): such
         * instances lead the card, before anything else, beside their Auto Scaling group.
         */
        criticalTags: z.array(z.string().min(1).max(256)).max(20).default([]),
        escalation: z
          .object({
            /** A card that gains a higher severity, a new finding type or an attack sequence posts a new message (chat.update notifies nobody). */
            enabled: z.boolean().default(true),
            /** Slack user group (S…) mentioned in escalations at or above `mentionMinSeverity`; unset = no mention. */
            mentionGroup: z.string().regex(/^S[A-Z0-9]{2,}$/, 'must be a Slack user-group ID (S…)').optional(),
            mentionMinSeverity: severityLabel.default('CRITICAL'),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    storm: z
      .object({
        /** Related findings arriving within this window of a card's creation join that card. */
        windowSeconds: z.number().int().min(10).max(86400).default(900),
        /** Once a channel has this many new cards inside the window, new findings roll up per account. */
        maxCardsPerWindow: z.number().int().min(1).max(1000).default(10),
        /** Findings listed by name on a roll-up card; the rest are counted. */
        listLimit: z.number().int().min(1).max(40).default(15),
        /**
         * A roll-up with more resources than `listLimit` gets the full list of its findings as a
         * file in its thread once no finding has joined it for this long (and on "Show all").
         */
        listQuietSeconds: z.number().int().min(1).max(3600).default(15),
      })
      .strict()
      .prefault({}),
    slack: z
      .object({
        /** Slack's chat.postMessage special limit is ~1/s per channel. */
        postIntervalMs: z.number().int().min(100).max(60000).default(1100),
        /** chat.update is Tier 3 (~50/min per app); this is the app-wide budget. */
        updatesPerMinute: z.number().int().min(1).max(600).default(50),
        /** Updates to one card within this time are merged into one chat.update. */
        coalesceMs: z.number().int().min(0).max(60000).default(2000),
        /**
         * How often a sweep re-queues cards and request status messages Slack has not shown at
         * their latest version for twice this long (their render gave up during a long Slack
         * outage, or was lost).
         */
        sweepSeconds: z.number().int().min(1).max(3600).default(60),
      })
      .strict()
      .prefault({}),
    requests: z
      .object({
        /**
         * How often the reconciler looks at every request that has not ended: it queues again the
         * job of one whose job is gone or failed (a Redis blip, a worker killed past BullMQ's
         * stalled limit), expires an approval past its time, and ends as failed, with the state
         * left, a request whose worker died `maxResumes` times.
         */
        reconcileSeconds: z.number().int().min(1).max(3600).default(60),
        maxResumes: z.number().int().min(0).max(20).default(3),
      })
      .strict()
      .prefault({}),
    ingest: z
      .object({
        maxBodyBytes: z.number().int().min(1024).max(10 * 1024 * 1024).default(1024 * 1024),
        maxEventsPerRequest: z.number().int().min(1).max(1000).default(100),
        /** Findings in one request, Security Hub's `detail.findings` included. */
        maxFindingsPerRequest: z.number().int().min(1).max(1000).default(100),
        /** Checked on the raw body before it is parsed (real findings nest about 10 deep and hold ~130 objects). */
        maxJsonDepth: z.number().int().min(8).max(256).default(32),
        maxJsonNodes: z.number().int().min(100).max(1_000_000).default(50_000),
      })
      .strict()
      .prefault({}),
    audit: z
      .object({
        /** Whole days older than this leave Redis, after being written to `exportDir`. */
        retentionDays: z.number().int().min(1).max(3650).default(90),
        /** Daily JSONL files (audit-YYYY-MM-DD.jsonl) of the entries trimmed from Redis; keep or ship them. */
        exportDir: z.string().min(1).default('audit-export'),
      })
      .strict()
      .prefault({}),
    incidents: z
      .object({
        /** Channel name for a declared incident: {number}, {date} (YYYYMMDD) and {slug} (from the title) are filled in; Slack allows a-z, 0-9, - and _, up to 80. */
        channelName: z.string().min(1).max(80).default('inc-{number}-{slug}'),
        /** Private channels by default: an incident names accounts, users and what is exposed. */
        private: z.boolean().default(true),
        /** Invited to every incident channel: users (U…) and user groups (S…, expanded). */
        invite: subjectList.default([]),
        /** Also invite the approvers (access.approvers) and whoever acknowledged or declared. */
        inviteApprovers: z.boolean().default(true),
        /** Archive the channel when the incident is closed. */
        archiveOnClose: z.boolean().default(false),
        /** A reaction with this name on a message in the incident channel puts the message on the timeline. */
        timelineReaction: z.string().regex(/^[a-z0-9_+'-]{1,100}$/).default('pushpin'),
        /** Declare an incident by itself for every new card with a finding of at least this severity label (unset: never). */
        autoDeclareMinSeverity: severityLabel.optional(),
        /** Declare an incident by itself for every GuardDuty attack sequence. */
        autoDeclareAttackSequences: z.boolean().default(false),
        /** One Jira issue per incident (needs JIRA_BASE_URL, JIRA_EMAIL, JIRA_API_TOKEN); unset: no tickets. */
        jira: z
          .object({
            project: z.string().regex(/^[A-Z][A-Z0-9_]{1,9}$/, 'a Jira project key, e.g. SEC'),
            issueType: z.string().min(1).max(60).default('Task'),
            /** Transition (by name) applied when the incident closes, e.g. Done; unset: a comment only. */
            closeTransition: z.string().min(1).max(60).optional(),
            /** Jira status (by name) → incident status, applied when the webhook reports it (forward moves only). */
            fromJira: z.record(z.string(), z.enum(['contained', 'eradicated', 'recovered'])).default({}),
          })
          .strict()
          .optional(),
      })
      .strict()
      .prefault({}),
    /**
     * Automatic containment (docs/autonomy.md): rules matched in order, the first that matches
     * decides; no rule matching means today's flow (`approve`).
     */
    autonomy: z
      .object({
        rules: z.array(policyRule).default([]),
        /** Every contain rule only says what it would have done (a trial run). */
        shadow: z.boolean().default(false),
        /** contain-unless-vetoed rules without their own window. */
        windowSeconds: z.number().int().min(1).max(3600).default(300),
        /** Never contained automatically: instances with any of these tags (key=value, value * for any). */
        protectedTags: z.array(tagPair).default(['env=prod', 'ir:never-auto=true']),
        /** Never contained automatically (besides access.protectedPrincipals): IAM ARNs or names. */
        protectedPrincipals: z.array(protectedPrincipal).default([]),
        /** Automatic actions per rolling hour, everywhere and per account; past either one, requests fall back to approval. */
        maxPerHour: z.number().int().min(1).max(10_000).default(20),
        maxPerAccountPerHour: z.number().int().min(1).max(10_000).default(10),
        /** How often the veto countdown in the thread is refreshed (chat.update notifies nobody; Slack allows ~50/min). */
        countdownSeconds: z.number().int().min(5).max(600).default(60),
        /** How long an account's OU path (organizations:ListParents) is reused before it is looked up again. */
        ouCacheSeconds: z.number().int().min(60).max(86_400).default(3600),
      })
      .strict()
      .prefault({}),
    /** How long findings and their card mapping are kept in Redis. */
    retentionDays: z.number().int().min(1).max(400).default(30),
    /**
     * How long the state recorded before a containment (what release, enable-key, allow and
     * restore-sessions put back) is kept while the containment lasts.
     */
    undoRecordDays: z.number().int().min(1).max(3650).default(365),
  })
  .strict();

export type FileConfig = z.infer<typeof fileSchema>;

/** Environment; AWS settings are left to the SDK's own chain. */
export const envSchema = z
  .object({
    SLACK_BOT_TOKEN: z.string({ error: 'required' }).regex(/^xox[a-z]-/, 'must be a bot token (xoxb-…)'),
    SLACK_SIGNING_SECRET: z.string().min(1).optional(),
    SLACK_APP_TOKEN: z.string().regex(/^xapp-/, 'must be an app-level token (xapp-…)').optional(),
    SLACK_MODE: z.enum(['socket', 'http']).optional(),
    SLACK_API_URL: z.url({ error: 'must be a URL such as http://localhost:4000/api/' }).optional(),
    PORT: z.coerce.number({ error: 'must be a port number' }).int().min(0).max(65535).default(3000),
    /** /metrics (and detailed /healthz) on their own port, on loopback unless METRICS_HOST says otherwise. */
    METRICS_PORT: z.coerce.number({ error: 'must be a port number' }).int().min(0).max(65535).default(9464),
    METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    /** Optional: lets a scraper read /metrics on the public PORT with `Authorization: Bearer <token>`. */
    METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Unset: the bot runs its own redis-server on loopback with its data in REDIS_DATA_DIR (for trying it out). */
    REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
    REDIS_DATA_DIR: z.string().min(1).default('data/redis'),
    /** PEM file of a private CA that signed the Redis server's certificate (rediss://, or REDIS_TLS=true with Sentinel). */
    REDIS_TLS_CA_FILE: z.string().min(1).optional(),
    /** Sentinel mode instead of REDIS_URL: `host:port,host:port,…` of the sentinels (see redisEndpointProblems). */
    REDIS_SENTINELS: z.string().optional(),
    /** The master name the sentinels monitor (`sentinel monitor <name> …`). */
    REDIS_SENTINEL_MASTER: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ., _ and - only').optional(),
    /** Sentinel mode: the ACL user and password of the data nodes (a REDIS_URL carries its own and ignores these). */
    REDIS_USERNAME: z.string().min(1).optional(),
    REDIS_PASSWORD: z.string().min(1).optional(),
    /** Sentinel mode: the sentinels' own password (`requirepass` in sentinel.conf), when they have one. */
    REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
    /** Sentinel mode: TLS to the data nodes and the sentinels (a REDIS_URL says so with rediss://). */
    REDIS_TLS: z.stringbool({ error: 'must be true or false' }).optional(),
    /**
     * After an acknowledged write (a finding answered 202, a request stored, an approval), wait until
     * this many replicas hold it (Redis WAIT); fewer within REDIS_WAIT_TIMEOUT_MS: the sender is told
     * to retry. 0 = do not wait (replication stays asynchronous).
     */
    REDIS_WAIT_REPLICAS: z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').min(0).max(10).default(0),
    REDIS_WAIT_TIMEOUT_MS: z.coerce.number({ error: 'must be a number of milliseconds' }).int().min(10).max(60_000).default(1000),
    /** How long start-up waits for Redis to answer before it stops with one line naming the host. */
    REDIS_STARTUP_TIMEOUT_MS: z.coerce.number({ error: 'must be a number of milliseconds' }).int().min(500).max(600_000).default(15_000),
    /** Jira Cloud for incident tickets (incidents.jira): site URL, account e-mail and API token (basic auth). */
    JIRA_BASE_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. https://example.atlassian.net' }).optional(),
    JIRA_EMAIL: z.string().min(3).optional(),
    JIRA_API_TOKEN: z.string().min(1).optional(),
    /** The secret of the Jira webhook into POST /jira/webhook (X-Hub-Signature HMAC); unset: the endpoint is off. */
    JIRA_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
    INGEST_API_KEY: z.string({ error: 'required' }).min(16, 'must be at least 16 characters'),
    IR_CONFIG: z.string({ error: 'required (path of the YAML config file)' }).min(1),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Prefix of every Redis key and queue; lets several deployments (or tests) share one Redis. */
    REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, _ and - only').default('irbot'),
    AWS_REGION: z.string().optional(),
  });

/**
 * Cross-field rules, checked on the raw env so they are reported together with every other
 * problem (zod skips refinements once a field has failed).
 */
export function envModeProblems(env: NodeJS.ProcessEnv): { path: string; message: string }[] {
  const mode = env.SLACK_MODE ?? (env.SLACK_APP_TOKEN ? 'socket' : 'http');
  const out: { path: string; message: string }[] = [];
  if (mode === 'socket' && !env.SLACK_APP_TOKEN) out.push({ path: 'SLACK_APP_TOKEN', message: 'required when SLACK_MODE=socket' });
  if (mode === 'http' && !env.SLACK_SIGNING_SECRET) {
    out.push({ path: 'SLACK_SIGNING_SECRET', message: 'required in HTTP mode (Slack signs every request)' });
  }
  return out.concat(redisEndpointProblems(env));
}

const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** REDIS_SENTINELS as a list of sentinels; malformed entries are reported by redisEndpointProblems. */
export function parseSentinels(value: string): { host: string; port: number }[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => HOST_PORT.test(s))
    .map((s) => {
      const i = s.lastIndexOf(':');
      return { host: s.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(i + 1)) };
    });
}

/** Which Redis settings go together: REDIS_URL or Sentinel, and what each one ignores or needs. */
function redisEndpointProblems(env: NodeJS.ProcessEnv): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const sentinels = env.REDIS_SENTINELS;
  if (sentinels === undefined) {
    for (const name of ['REDIS_SENTINEL_MASTER', 'REDIS_SENTINEL_PASSWORD', 'REDIS_USERNAME'] as const) {
      if (env[name] !== undefined) out.push({ path: name, message: 'only used with REDIS_SENTINELS (a REDIS_URL carries its own user: redis://user:password@host:6379)' });
    }
    if (env.REDIS_TLS !== undefined) out.push({ path: 'REDIS_TLS', message: 'only used with REDIS_SENTINELS (with REDIS_URL, rediss:// turns TLS on)' });
    return out;
  }
  if (env.REDIS_URL !== undefined) out.push({ path: 'REDIS_SENTINELS', message: 'set either REDIS_URL or REDIS_SENTINELS, not both' });
  const entries = sentinels.split(',').map((s) => s.trim());
  const bad = entries.filter((s) => {
    const m = HOST_PORT.exec(s);
    return !m || Number(m[1]) < 1 || Number(m[1]) > 65535;
  });
  if (bad.length > 0) out.push({ path: 'REDIS_SENTINELS', message: `each entry must be host:port (got ${bad.map((b) => JSON.stringify(b)).join(', ')})` });
  if (env.REDIS_SENTINEL_MASTER === undefined) out.push({ path: 'REDIS_SENTINEL_MASTER', message: 'required with REDIS_SENTINELS (the name the sentinels monitor, e.g. mymaster)' });
  if (env.REDIS_USERNAME !== undefined && env.REDIS_PASSWORD === undefined) out.push({ path: 'REDIS_PASSWORD', message: 'required when REDIS_USERNAME is set' });
  return out;
}

export type Env = z.infer<typeof envSchema>;
