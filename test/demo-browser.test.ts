import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startDemo, type Demo } from '../demo/demo';
import { WEB_SERVER } from '../demo/scene';

/**
 * Chromium from Debian's packages (`apt-get install chromium`; .ci/run installs it). No browser
 * means this suite fails, saying so: a demo nobody can click through is not tested by skipping.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

describe('npm run demo in a real browser', () => {
  let demo: Demo | undefined;
  let browser: Browser | undefined;
  let page: Page;

  beforeAll(async () => {
    if (!CHROMIUM || !existsSync(CHROMIUM)) {
      throw new Error(`no Chromium to drive the demo page: install it (Debian: apt-get install chromium) or set CHROMIUM_PATH (looked for ${CHROMIUM ?? '/usr/bin/chromium'})`);
    }
    demo = await startDemo({ port: 0 });
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await browser.newPage();
    await page.goto(demo.url);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  });

  it('says the outside services are stand-ins', async () => {
    await expect(page.locator('#standin').textContent()).resolves.toMatch(/Slack, AWS .*Athena and GuardDuty are local stand-ins/s);
  });

  it('shows the card; Isolate as the responder, Approve as the approver, and the verified result arrives in the thread', async () => {
    // The replayed findings become one roll-up card in #crypto-alerts; each row has its responses.
    const row = page.locator('.msg .block-section', { hasText: WEB_SERVER }).first();
    await row.waitFor({ timeout: 30_000 });
    await expect(page.locator('.block-header').first().textContent()).resolves.toContain('11 findings');

    await page.click('#as-U01ANA');
    await row.locator('select[data-action-id="ir_finding_menu"]').selectOption({ label: `Isolate ${WEB_SERVER}` });

    // The plan and its approval card come into the card's thread.
    const approve = page.locator('.thread button[data-action-id="ir_approve"]').first();
    await approve.waitFor({ timeout: 30_000 });
    const plan = (await page.locator('.thread').first().textContent()) ?? '';
    expect(plan).toContain('awaiting approval');
    expect(plan).toContain('detach from Auto Scaling group web-asg');
    expect(plan).toContain('web-tg port 80');

    await page.click('#as-U02LEAD');
    await page.locator('#as-U02LEAD[aria-pressed="true"]').waitFor();
    await page.locator('.thread button[data-action-id="ir_approve"]').first().click();

    const verified = page.locator('.thread .msg', { hasText: 'Verified end state' }).first();
    await verified.waitFor({ timeout: 60_000 });
    const result = (await verified.textContent()) ?? '';
    expect(result).toContain('done');
    expect(result).toContain('approved by @Lee');
    expect(result).toContain('Auto Scaling group web-asg: detached ✓');
    // And the stand-in account really changed: the instance is in the quarantine group only.
    const q = [...demo!.aws.groups.values()].find((g) => g.name === 'ir-quarantine');
    expect(q).toBeDefined();
    expect([...demo!.aws.enis.values()].filter((e) => e.instanceId === WEB_SERVER).every((e) => e.groups.join() === q!.id)).toBe(true);
  }, 120_000);

  it('the card names the common cause from the instances\' stories, with buttons that act on it', async () => {
    const cause = page.locator('#messages > .msg', { hasText: 'Common cause: 10 of 11 instances launched by key AKIAIOSFODNN7DEMO001' }).first();
    await cause.waitFor({ timeout: 60_000 });
    const text = (await cause.textContent()) ?? '';
    expect(text).toContain('from ami-0badc0ffee0000001 (owned by account 999988887777, not this one)');
    expect(await cause.locator('button', { hasText: 'Disable key AKIAIOSFODNN7DEMO001' }).count()).toBe(1);
  }, 60_000);

  it('Isolate all (the ten left): one approval, and the card header says 11 of 11 contained, with no Isolate left to click', async () => {
    await page.click('#as-U01ANA');
    await page.locator('#as-U01ANA[aria-pressed="true"]').waitFor();
    // The web server is isolated already: the bulk button counts only what is left.
    const bulk = page.locator('#messages > .msg button[data-action-id="ir_bulk_isolate"]').first();
    await bulk.waitFor({ timeout: 30_000 });
    expect(await bulk.textContent()).toBe('Isolate remaining 10');
    await bulk.click();
    const approve = page.locator('.thread button[data-action-id="ir_approve"]').first();
    await approve.waitFor({ timeout: 60_000 });
    await page.click('#as-U02LEAD');
    await page.locator('#as-U02LEAD[aria-pressed="true"]').waitFor();
    await page.locator('.thread button[data-action-id="ir_approve"]').first().click();

    const card = page.locator('#messages > .msg', { hasText: 'Contained: 11 of 11 resources (11 isolated)' }).first();
    await card.waitFor({ timeout: 120_000 });
    const text = (await card.textContent()) ?? '';
    expect(text).toContain('CONTAINED');
    // Isolation took the web server out of its group and target group (the latter known from its story).
    expect(text).toContain('Production: 1 instance taken out of Auto Scaling group web-asg');
    expect(text).toContain('1 instance taken out of target group web-tg');
    expect(await card.locator('button[data-action-id="ir_bulk_isolate"]').count()).toBe(0);
    expect(await card.locator('button', { hasText: /^Isolate/ }).count()).toBe(0);
  }, 180_000);

  it('an attack sequence over the web server arrives: a new message in the channel says what escalated', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sequence = JSON.parse(JSON.stringify(require('./fixtures/guardduty-attack-sequence.json')));
    const before = await page.locator('#messages > .msg').count();
    await demo!.ingest([sequence]);
    const news = page.locator('#messages > .msg.broadcast', { hasText: 'Escalated to CRITICAL' }).first();
    await news.waitFor({ timeout: 30_000 });
    expect(await news.textContent()).toContain('attack sequence AttackSequence:EC2/CompromisedInstanceGroup');
    // A new message, not only an edit of the card.
    expect(await page.locator('#messages > .msg').count()).toBe(before + 1);
  }, 60_000);

  it('shows files the bot uploads: Report puts the Markdown incident report in the thread', async () => {
    await page.click('#as-U01ANA');
    await page.locator('.msg button', { hasText: 'Report' }).first().click();
    // The thread also holds the plan and result files of the isolations before: the report is its own file.
    const file = page.locator('.thread .file a', { hasText: /^incident-report-.*\.md$/ }).first();
    await file.waitFor({ timeout: 30_000 });
    const res = await fetch(new URL((await file.getAttribute('href'))!, demo!.url));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(WEB_SERVER);
  }, 60_000);

  it('shows attacker-controlled finding text as text: markup in a title never becomes part of the page', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const probe = JSON.parse(JSON.stringify(require('./fixtures/guardduty-port-probe.json')));
    probe.detail.id = 'a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0';
    probe.detail.title = 'Probe <img src=x onerror="window.__pwned=1"> from <script>window.__pwned=2</script> *bold* <@U02LEAD>';
    await demo!.ingest([probe]);
    await page.click('[data-channel="C01SECOPS"]');
    const card = page.locator('.msg', { hasText: 'onerror=' }).first();
    await card.waitFor({ timeout: 30_000 });
    expect(await card.textContent()).toContain('Probe <img src=x onerror="window.__pwned=1"> from <script>window.__pwned=2</script>');
    expect(await page.locator('#messages img, #messages script').count()).toBe(0);
    expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');
    await page.click('[data-channel="C02CRYPTO"]');
  }, 60_000);

  it('takes /ir commands typed into the page: the audit trail names who asked and who approved', async () => {
    await page.click('#as-U01ANA');
    await page.fill('#command', `/ir audit ${WEB_SERVER}`);
    await page.press('#command', 'Enter');
    const answer = page.locator('.msg.ephemeral', { hasText: 'approve' }).last();
    await answer.waitFor({ timeout: 30_000 });
    const text = (await answer.textContent()) ?? '';
    expect(text).toContain('Only visible to you');
    expect(text).toContain('@Ana');
    expect(text).toContain('@Lee');
  }, 60_000);
});
