// Accessibility: axe-core checks every page, signed out and signed in, on a
// desktop and on a 390 px wide phone; a serious or critical violation fails.
import AxeBuilder from '@axe-core/playwright';
import { type Browser, type Page } from '@playwright/test';
import { test, expect, database, hydrated, tag } from './helpers';

const viewports = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
};

async function check(page: Page, path: string) {
  await page.goto(path);
  await hydrated(page);
  await expect(page.getByText('Loading…')).toHaveCount(0);
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'])
    .analyze();
  const bad = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.map((n) => n.target.join(' ')).join('\n  ')}`);
  expect(bad, `axe on ${path} at ${page.viewportSize()?.width}px`).toEqual([]);
}

/** A signed-in admin of a group with a notice, a request, a room and a poll. */
async function adminWithContent(browser: Browser, viewport: { width: number; height: number }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const email = `axe-${tag()}@example.org`;
  expect((await page.request.post('/api/auth/signup', { data: { email, password: 'correct horse', name: 'Ann' } })).status()).toBe(201);
  const slug = `g-${tag()}`;
  expect((await page.request.post('/api/groups', { data: { slug, name: 'Elm Court' } })).status()).toBe(201);
  const request = crypto.randomUUID();
  const at = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();
  const room = crypto.randomUUID();
  const mutations = [
    { name: 'announcement.create', args: { id: crypto.randomUUID(), title: 'Bins on Tuesday', body: 'Green bin.' } },
    { name: 'request.create', args: { id: request, title: 'Leaking tap', description: 'Kitchen, flat 2.' } },
    { name: 'request.comment', args: { id: crypto.randomUUID(), request_id: request, body: 'On it.' } },
    { name: 'resource.create', args: { id: room, name: 'Laundry' } },
    { name: 'booking.create', args: { id: crypto.randomUUID(), resource_id: room, starts_at: at(2), ends_at: at(3) } },
    {
      name: 'poll.create',
      args: {
        id: crypto.randomUUID(),
        question: 'Paint the door?',
        options: [
          { id: crypto.randomUUID(), label: 'Yes' },
          { id: crypto.randomUUID(), label: 'No' },
        ],
        multiple: false,
        anonymous: false,
        live_results: true,
        closes_at: at(48),
      },
    },
  ].map((m) => ({ id: crypto.randomUUID(), ...m }));
  const written = await page.request.post('/api/mutate', { data: { group: slug, mutations } });
  expect(written.status()).toBe(200);
  for (const result of (await written.json()).results) expect(result.status).toBe('applied');
  return { page, slug, request };
}

for (const [name, viewport] of Object.entries(viewports)) {
  test(`every page passes axe signed out, ${name}`, async ({ browser }) => {
    const page = await (await browser.newContext({ viewport })).newPage();
    for (const path of ['/', '/login', '/signup', '/forgot', '/reset/not-a-token', '/verify/not-a-token', '/unsubscribe/not-a-token', '/join/nope', '/no-such-page']) {
      await check(page, path);
    }
  });

  test(`every page passes axe signed in, ${name}`, async ({ browser }) => {
    const { page, slug, request } = await adminWithContent(browser, viewport);
    const group = `/g/${slug}`;
    // An unsubscribe link, as a notification would carry.
    const token = (crypto.randomUUID() + crypto.randomUUID()).replace(/-/g, '');
    const db = await database();
    try {
      await db.query(
        `INSERT INTO unsubscribe_links (token, user_id, group_id, kind)
         SELECT $1, m.user_id, m.group_id, 'notices' FROM memberships m JOIN groups g ON g.id = m.group_id WHERE g.slug = $2`,
        [token, slug],
      );
    } finally {
      await db.end();
    }
    for (const path of [
      '/',
      '/account',
      '/groups/new',
      group,
      `${group}/announcements`,
      `${group}/requests`,
      `${group}/requests/${request}`,
      `${group}/bookings`,
      `${group}/polls`,
      `${group}/documents`,
      `${group}/members`,
      `/unsubscribe/${token}`,
    ]) {
      await check(page, path);
    }
  });
}
