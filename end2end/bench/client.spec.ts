// Client benchmark (not part of the test suite): run by scripts/bench-client
// against a release build. Prints figures; asserts only that they were taken.
import { test, expect, type Page } from '@playwright/test';
import { database, groupWith, person, seedNotices, storedRows, synced } from '../tests/helpers';

/** Marks, from the document's start, when the page hydrated
 * (`window.hydratedAt`) and when the board first shows the browser's copy
 * (`window.localAt`, at the next frame after that DOM change). */
async function timeLocalBoard(page: Page) {
  await page.addInitScript(() => {
    const w = window as unknown as { hydratedAt?: number; localAt?: number };
    new MutationObserver((_, observer) => {
      if (w.hydratedAt === undefined && document.body?.hasAttribute('data-hydrated')) w.hydratedAt = performance.now();
      if (!document.querySelector('[aria-label="Sync"][data-local="true"]')) return;
      if (document.querySelectorAll('.notice').length === 0) return;
      observer.disconnect();
      requestAnimationFrame(() => (w.localAt = performance.now()));
    }).observe(document, { subtree: true, childList: true, attributes: true });
  });
}

test('10 000 synced rows into IndexedDB', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const slug = await groupWith(ann, []);
  await seedNotices(slug, 10_000);
  const page = await ann.context().newPage();
  const started = Date.now();
  await page.goto(`/g/${slug}/members`);
  await expect.poll(() => storedRows(page), { timeout: 120_000, intervals: [50] }).toBeGreaterThanOrEqual(10_001);
  const ms = Date.now() - started;
  console.log(`BENCH indexeddb_10000_rows_ms ${ms}`);
});

test('first render of 5 000 local rows, offline', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const slug = await groupWith(ann, []);
  await seedNotices(slug, 5_000);
  await ann.goto(`/g/${slug}/announcements`);
  await synced(ann);
  await ann.goto(`/g/${slug}/announcements`); // kept by the service worker now
  await synced(ann);
  await ann.context().setOffline(true);
  // All 5 000 rows read from IndexedDB, the first page rendered.
  await timeLocalBoard(ann);
  await ann.reload();
  await ann.locator('body[data-hydrated]').waitFor();
  await expect(ann.getByRole('status', { name: 'Sync' })).toHaveAttribute('data-local', 'true');
  await expect.poll(() => ann.evaluate(() => (window as unknown as { localAt?: number }).localAt)).toBeGreaterThan(0);
  const timings = await ann.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
    return {
      html: nav.responseEnd,
      hydrated: (window as unknown as { hydratedAt: number }).hydratedAt,
      local: (window as unknown as { localAt: number }).localAt,
      notices: document.querySelectorAll('.notice').length,
    };
  });
  expect(timings.notices).toBe(50);
  console.log(`BENCH offline_html_ms ${Math.round(timings.html)}`);
  console.log(`BENCH offline_hydrated_ms ${Math.round(timings.hydrated)}`);
  console.log(`BENCH first_render_5000_local_rows_ms ${Math.round(timings.local)}`);
});

/** Years of a group's history, as in `server/benches/pages.rs`: 20 000
 * notices, 20 000 requests with 40 000 comments, 20 000 bookings over 10
 * rooms, 2 000 members (and the admin). Returns how many rows. */
async function seedLargeGroup(slug: string, admin: string): Promise<number> {
  const db = await database();
  try {
    const { rows } = await db.query('SELECT schema_name FROM groups WHERE slug = $1', [slug]);
    const s = `"${rows[0].schema_name}"`;
    await db.query('BEGIN');
    await db.query(`INSERT INTO ${s}.members (user_id, display_name, role)
      SELECT gen_random_uuid(), 'Resident ' || i, 'resident' FROM generate_series(1, 2000) i`);
    await db.query(`INSERT INTO ${s}.announcements (id, author_id, title, body, created_at)
      SELECT gen_random_uuid(), '${admin}', 'notice ' || i, repeat('text ', 20), now() - i * interval '1 minute'
      FROM generate_series(1, 20000) i`);
    await db.query(`INSERT INTO ${s}.requests (id, author_id, title, description, status, created_at)
      SELECT gen_random_uuid(), '${admin}', 'request ' || i, repeat('text ', 10),
             CASE i % 40 WHEN 0 THEN 'open' WHEN 1 THEN 'in_progress' ELSE 'resolved' END, now() - i * interval '1 hour'
      FROM generate_series(1, 20000) i`);
    await db.query(`INSERT INTO ${s}.request_comments (id, request_id, author_id, body, created_at)
      SELECT gen_random_uuid(), r.id, '${admin}', 'comment ' || c, r.created_at + c * interval '1 minute'
      FROM ${s}.requests r, generate_series(1, 2) c`);
    await db.query(`INSERT INTO ${s}.resources (id, name) SELECT gen_random_uuid(), 'Room ' || i FROM generate_series(1, 10) i`);
    await db.query(`INSERT INTO ${s}.bookings (id, resource_id, member_id, starts_at, ends_at)
      SELECT gen_random_uuid(), r.id, '${admin}', date_trunc('day', now()) - interval '1000 hours' + h * interval '1 hour',
             date_trunc('day', now()) - interval '1000 hours' + (h + 1) * interval '1 hour'
      FROM ${s}.resources r, generate_series(0, 1999) h`);
    await db.query('COMMIT');
    return 2001 + 20000 + 20000 + 40000 + 10 + 20000;
  } finally {
    await db.end();
  }
}

test('a group of 102 011 rows: initial sync, offline board, one change', async ({ browser }) => {
  const ann = await person(browser, 'Ann Admin');
  const slug = await groupWith(ann, []);
  const me = (await (await ann.request.get('/api/me')).json()).user.id;
  const total = await seedLargeGroup(slug, me);

  // Initial sync into IndexedDB, from navigation start.
  const started = Date.now();
  await ann.goto(`/g/${slug}/announcements`);
  await expect.poll(() => storedRows(ann), { timeout: 280_000, intervals: [200] }).toBeGreaterThanOrEqual(total);
  const seconds = (Date.now() - started) / 1000;
  console.log(`BENCH initial_sync_large_group_rows ${total}`);
  console.log(`BENCH initial_sync_large_group_rows_per_s ${Math.round(total / seconds)}`);
  await synced(ann);

  // Offline reload of the board with 20 000 local notices, to the local copy shown.
  await ann.goto(`/g/${slug}/announcements`);
  await synced(ann);
  await ann.context().setOffline(true);
  await timeLocalBoard(ann);
  await ann.reload();
  await expect.poll(() => ann.evaluate(() => (window as unknown as { localAt?: number }).localAt)).toBeGreaterThan(0);
  const local = await ann.evaluate(() => (window as unknown as { localAt: number }).localAt);
  console.log(`BENCH offline_board_20000_notices_local_shown_ms ${Math.round(local)}`);
  await ann.context().setOffline(false);

  // One incoming change with every row held: the main thread's busy time
  // (Chromium's TaskDuration) from before the change is written until the
  // page shows it, the page otherwise idle.
  await ann.goto(`/g/${slug}/announcements`);
  await synced(ann);
  await ann.waitForTimeout(2000);
  const cdp = await ann.context().newCDPSession(ann);
  await cdp.send('Performance.enable');
  const busy = async () =>
    (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration')!.value;
  const before = await busy();
  const db = await database();
  try {
    const { rows } = await db.query('SELECT schema_name FROM groups WHERE slug = $1', [slug]);
    await db.query(
      `INSERT INTO "${rows[0].schema_name}".announcements (id, author_id, title, body, pinned) VALUES (gen_random_uuid(), $1, 'one change', '', true)`,
      [me],
    );
  } finally {
    await db.end();
  }
  await expect(ann.locator('.notice').first().locator('h3')).toContainText('one change', { timeout: 30_000 });
  await ann.waitForTimeout(500);
  const ms = ((await busy()) - before) * 1000;
  console.log(`BENCH one_change_with_${total}_rows_main_thread_ms ${ms.toFixed(1)}`);
});
