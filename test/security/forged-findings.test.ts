import { fixture, findingFrom, startHarness, tearDownAfterEach, waitFor, type Harness } from '../support/harness';

const OTHER_PRODUCT = 'arn:aws:securityhub:us-east-1:999988887777:product/999988887777/default';

function cardText(h: Harness, channel: string): string {
  return JSON.stringify(h.slack.channelMessages(channel).map((m) => m.blocks));
}

/** A Security Hub import from `productArn`, with the given Id, title and UpdatedAt. */
function imported(productArn: string, change: { Id?: string; Title: string; UpdatedAt: string }) {
  const e = fixture('securityhub-guardduty');
  const f = e.detail.findings[0];
  Object.assign(f, { ProductArn: productArn, ProductName: 'Default', CompanyName: 'Personal', ...change });
  f.ProductFields['aws/guardduty/service/count'] = '1';
  e.resources = [productArn];
  return e;
}

describe('a finding from another product cannot take over or freeze a GuardDuty card', () => {
  let h: Harness;
  tearDownAfterEach(() => ({ h }));

  it('keeps an import with a GuardDuty-shaped Id from another product apart, and genuine GuardDuty updates still land on the card', async () => {
    h = await startHarness();
    const gd = fixture('guardduty-backdoor-cc');
    expect((await h.postEvents(gd)).status).toBe(202);
    const card = await waitFor(() => h.slack.channelMessages('C02CRIT')[0], 'the GuardDuty card');
    expect(cardText(h, 'C02CRIT')).toContain('3×');

    const forged = imported(OTHER_PRODUCT, { Id: gd.detail.arn, Title: 'Benign test finding, close it', UpdatedAt: '2099-01-01T00:00:00.000Z' });
    const res = await h.postEvents(forged);
    expect(res.status).toBe(202);
    const gdKey = findingFrom('guardduty-backdoor-cc').key;
    expect(res.body.accepted[0].key).not.toBe(gdKey);
    await waitFor(() => [...h.slack.channelMessages('C02CRIT'), ...h.slack.channelMessages('C01ALERTS')].find((m) => JSON.stringify(m.blocks).includes('Benign test finding')), 'the other product\'s own card');
    expect(JSON.stringify(card.blocks)).not.toContain('Benign test finding');

    gd.detail.service.count = 9;
    gd.detail.updatedAt = '2026-11-22T05:00:00.000Z';
    expect((await h.postEvents(gd)).status).toBe(202);
    await waitFor(() => JSON.stringify(card.blocks).includes('9×'), 'the genuine update on the GuardDuty card', 8000);
  }, 30_000);

  it('applies the same rule to the new Security Hub (OCSF): a product calling itself "GuardDuty" does not get GuardDuty\'s key', () => {
    const genuine = findingFrom('ocsf-guardduty-backdoor-cc');
    const named = findingFrom('ocsf-guardduty-backdoor-cc', (e) => (e.detail.findings[0].metadata.product.uid = 'arn:aws:securityhub:us-east-1:999988887777:productv2/999988887777/default'));
    expect(genuine.key).toBe(findingFrom('guardduty-backdoor-cc').key);
    expect(named.key).not.toBe(genuine.key);
    expect(named.notes?.join(' ')).toContain('not GuardDuty\'s');
  });

  it('takes an UpdatedAt in the future as the time it arrived, so the next genuine version still updates the card', async () => {
    h = await startHarness();
    const id = 'arn:aws:securityhub:us-east-1:999988887777:finding/5b1c7f2e-0000-4000-8000-000000000001';
    const first = imported(OTHER_PRODUCT, { Id: id, Title: 'Version dated 2099', UpdatedAt: '2099-01-01T00:00:00.000Z' });
    expect((await h.postEvents(first)).status).toBe(202);
    const card = await waitFor(() => [...h.slack.channelMessages('C02CRIT'), ...h.slack.channelMessages('C01ALERTS')].find((m) => JSON.stringify(m.blocks).includes('Version dated 2099')), 'the first card');
    await new Promise((r) => setTimeout(r, 50));
    const next = imported(OTHER_PRODUCT, { Id: id, Title: 'Genuine later version', UpdatedAt: new Date(Date.now() + 1000).toISOString() });
    expect((await h.postEvents(next)).status).toBe(202);
    await waitFor(() => JSON.stringify(card.blocks).includes('Genuine later version'), 'the later version on the same card', 8000);
    expect(findingFrom('guardduty-backdoor-cc', (e) => (e.detail.updatedAt = '2099-01-01T00:00:00.000Z')).notes?.join(' ')).toContain('is in the future');
  }, 30_000);
});
