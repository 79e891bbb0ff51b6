/** What actions hand back to the pipeline: plans before approval, verified outcomes after. */
/** What the plan step found: shown before approval, compared again before execution. */
export interface PlanView {
  /** Each line one exact change, e.g. "eni-0a1: sg-1, sg-2 → sg-quarantine". */
  summary: string[];
  warnings: string[];
  /** Step labels in execution order, for "step k of n". */
  steps: string[];
  /** Hash of the AWS state the plan was built from; a different hash means AWS changed. */
  fingerprint: string;
  /** Set when the action must not run at all (not found, terminated, already isolated…). */
  blocked?: string;
  /** Action-specific state the execute step needs (e.g. the pre-isolation record). */
  data?: unknown;
  /**
   * The same changes for a bulk plan (see eachInstance), phrased without this instance's own ids
   * so that equal phrases across instances are one line: `same` is what every instance gets
   * ("every interface to ir-quarantine"), `impact` what touches production (Auto Scaling,
   * target groups, Elastic IPs) and is listed first, per instance.
   */
  bulk?: {
    same: string[];
    impact: string[];
    /**
     * Other instances this one's plan warns about (those sharing its instance role), and that
     * warning: a bulk plan keeps it only for instances outside the plan, counted again.
     */
    sharedWith?: { instances: string[]; warning: string };
  };
  /** The full per-instance plan of a bulk plan, shared as a file beside the approval message. */
  detail?: { filename: string; content: string };
}

export interface ActionOutcome {
  ok: boolean;
  /** The verified end state, one line per resource. */
  lines: string[];
  /** What the result does and does not guarantee. */
  notes: string[];
  /**
   * What the thread shows instead of `lines` when they are many (a bulk result): counts first,
   * then only what needs a look. `lines` stay complete for the report, notes and the card.
   */
  summary?: string[];
  /** The lines about production (Auto Scaling, target groups, Elastic IPs): a bulk result shows these, the rest goes to its file. */
  impact?: string[];
  /** Tabular results (hunts): the first rows, for the thread. */
  table?: { columns: string[]; rows: string[][]; total: number };
  /** A file for the thread (a hunt's full CSV). */
  attachment?: { filename: string; content: string };
  /** Values in the results worth acting on or hunting further. */
  pivots?: { kind: 'principal' | 'deny' | 'ip' | 'accessKey' | 'instance'; value: string }[];
  link?: { url: string; label: string };
  /** Instances a blast radius found the principal launched that still exist: the "all rogue instances" responses. */
  rogueInstances?: string[];
}

export interface FailureView {
  message: string;
  /** Step that failed, 1-based, and its label. */
  step?: number;
  stepLabel?: string;
  /** What had been done before the failure: the state the target was left in. */
  done: string[];
}
