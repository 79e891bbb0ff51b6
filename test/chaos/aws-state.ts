import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { FakeAws } from '../support/fake-aws';

/**
 * The AWS stand-in's account as a JSON file, so it outlives a worker process killed with SIGKILL:
 * a worker child loads it at start and writes it after every call (synchronously, before the
 * answer returns), so a kill leaves exactly what "AWS" had applied, answered or not.
 */
interface Saved {
  account: string;
  seq: number;
  snapshotPolls: number;
  instances: [string, any][];
  enis: [string, any][];
  groups: [string, any][];
  addresses: [string, any][];
  asg: [string, string][];
  targetGroups: any[];
  volumes: [string, any][];
  snapshots: [string, any][];
  users: [string, { keys: { id: string; status: string }[]; policies: [string, string][] }][];
  roles: [string, { policies: [string, string][] }][];
}

export function saveAws(aws: FakeAws, file: string): void {
  const saved: Saved = {
    account: aws.account,
    seq: (aws as unknown as { seq: number }).seq,
    snapshotPolls: aws.snapshotPolls,
    instances: [...aws.instances],
    enis: [...aws.enis],
    groups: [...aws.groups],
    addresses: [...aws.addresses],
    asg: [...aws.asg],
    targetGroups: aws.targetGroups,
    volumes: [...aws.volumes],
    snapshots: [...aws.snapshots],
    users: [...aws.users].map(([k, u]) => [k, { keys: u.keys, policies: [...u.policies] }]),
    roles: [...aws.roles].map(([k, r]) => [k, { policies: [...r.policies] }]),
  };
  // Write then rename: a reader never sees half a file.
  writeFileSync(`${file}.tmp`, JSON.stringify(saved));
  renameSync(`${file}.tmp`, file);
}

export function loadAws(file: string): FakeAws {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Saved;
  const aws = new FakeAws();
  aws.account = s.account;
  (aws as unknown as { seq: number }).seq = s.seq;
  aws.snapshotPolls = s.snapshotPolls;
  // EC2 finishes a stop while nobody watches; the in-memory timer that does it died with the process.
  aws.instances = new Map(s.instances.map(([k, v]) => [k, v.state === 'stopping' ? { ...v, state: 'stopped' } : v]));
  aws.enis = new Map(s.enis);
  aws.groups = new Map(s.groups);
  aws.addresses = new Map(s.addresses);
  aws.asg = new Map(s.asg);
  aws.targetGroups = s.targetGroups;
  aws.volumes = new Map(s.volumes);
  aws.snapshots = new Map(s.snapshots);
  aws.users = new Map(s.users.map(([k, u]) => [k, { keys: u.keys, policies: new Map(u.policies) }]));
  aws.roles = new Map(s.roles.map(([k, r]) => [k, { policies: new Map(r.policies) }]));
  return aws;
}

/**
 * What a responder would compare: the account with generated ids, times and request ids replaced,
 * so a run with kills can be compared with a run without.
 */
export function normalizedAws(file: string, requestIds: string[]): unknown {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Saved;
  const groupName = new Map(s.groups.map(([id, g]) => [id, g.name as string]));
  let text = JSON.stringify({
    instances: s.instances.map(([, i]) => ({ ...i, state: i.state === 'stopping' ? 'stopped' : i.state })),
    enis: s.enis.map(([, e]) => ({ ...e, groups: e.groups.map((g: string) => groupName.get(g) ?? g) })),
    groups: s.groups.map(([, g]) => ({ name: g.name, vpcId: g.vpcId, ingress: g.ingress, egress: g.egress })).sort((a, b) => a.name.localeCompare(b.name)),
    addresses: s.addresses.map(([, a]) => ({ allocationId: a.allocationId, eniId: a.eniId ?? null, privateIp: a.privateIp ?? null, associated: !!a.associationId })),
    asg: s.asg,
    targetGroups: s.targetGroups,
    // Per volume: how many snapshots, in which states, with which tag keys (ids and times vary).
    snapshots: s.snapshots
      .map(([, x]) => ({ volumeId: x.volumeId, state: x.state, tags: Object.keys(x.tags).sort(), sharedWith: x.sharedWith }))
      .sort((a, b) => a.volumeId.localeCompare(b.volumeId)),
    users: s.users,
    roles: s.roles,
  });
  for (const [id, g] of groupName) text = text.split(id).join(`<sg:${g}>`);
  requestIds.forEach((id, n) => (text = text.split(id).join(`<request ${n + 1}>`)));
  text = text.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>');
  return JSON.parse(text);
}
