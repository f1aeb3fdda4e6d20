// The official Electric client (@electric-sql/client, in Node) against our
// shape endpoint: initial rows, live insert/update/delete through
// /api/mutate, recovery from a 409, and a where-filtered shape.
import { type APIRequestContext } from '@playwright/test';
import { Shape, ShapeStream, type Row } from '@electric-sql/client';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { test, expect, tag } from './helpers';

const base = process.env.COURTYARD_URL ?? 'http://127.0.0.1:3000';
const tables = ['members', 'announcements', 'requests', 'request_comments', 'resources', 'bookings'];

let db: pg.Client;
test.beforeAll(async () => {
  db = new pg.Client({ connectionString: process.env.COURTYARD_DATABASE_URL });
  await db.connect();
});
test.afterAll(async () => db.end());

/** A signed-up admin of a new group: its API context, bearer header, slug and schema. */
async function setUp(request: APIRequestContext) {
  const email = `electric-${tag()}@example.org`;
  expect((await request.post('/api/auth/signup', { data: { email, password: 'correct horse', name: 'Ann' } })).status()).toBe(201);
  const slug = `e-${tag()}`;
  expect((await request.post('/api/groups', { data: { slug, name: 'Elm' } })).status()).toBe(201);
  const token = await (await request.post('/api/auth/token', { data: { email, password: 'correct horse' } })).json();
  const { rows } = await db.query('SELECT schema_name FROM groups WHERE slug = $1', [slug]);
  const headers = { Authorization: `Bearer ${token.token}` };
  return { slug, headers, schema: rows[0].schema_name as string };
}

async function mutate(request: APIRequestContext, slug: string, name: string, args: object) {
  const response = await request.post('/api/mutate', { data: { group: slug, mutations: [{ id: randomUUID(), name, args }] } });
  expect(response.status()).toBe(200);
  const body = await response.json();
  expect(body.results[0].status).toBe('applied');
  return body;
}

/** Resolves when the shape's rows satisfy `check` (rechecked on every change). */
function until(shape: Shape<Row>, check: (rows: Row[]) => boolean): Promise<Row[]> {
  return new Promise((resolve) => {
    if (check(shape.currentRows)) return resolve(shape.currentRows);
    const stop = shape.subscribe(({ rows }) => {
      if (check(rows)) {
        stop();
        resolve(rows);
      }
    });
  });
}

const titles = (rows: Row[]) => rows.map((r) => r.title as string).sort();

test('every table syncs and its rows equal the database', async ({ request }) => {
  const { slug, headers, schema } = await setUp(request);
  for (const title of ['Bins', 'Gate', 'Lift']) {
    await mutate(request, slug, 'announcement.create', { id: randomUUID(), title, body: `about ${title}` });
  }
  const room = randomUUID();
  await mutate(request, slug, 'resource.create', { id: room, name: 'Laundry' });
  const request_id = randomUUID();
  await mutate(request, slug, 'request.create', { id: request_id, title: 'Tap', description: 'drips' });
  await mutate(request, slug, 'request.comment', { id: randomUUID(), request_id, body: 'on it' });
  const startsAt = new Date(Date.now() + 86_400_000);
  await mutate(request, slug, 'booking.create', {
    id: randomUUID(), resource_id: room,
    starts_at: startsAt.toISOString(), ends_at: new Date(startsAt.getTime() + 3_600_000).toISOString(),
  });
  for (const table of tables) {
    const stream = new ShapeStream({ url: `${base}/g/${slug}/v1/shape`, params: { table }, headers });
    const rows = await new Shape(stream).rows;
    const pk = table === 'members' ? 'user_id' : 'id';
    const inDb = await db.query(`SELECT ${pk}::text AS pk FROM "${schema}"."${table}"`);
    expect(rows.map((r) => r[pk]).sort(), table).toEqual(inDb.rows.map((r) => r.pk).sort());
    expect(rows.length, table).toBeGreaterThan(0);
    stream.unsubscribeAll();
  }
});

test('inserts, updates and deletes through /api/mutate arrive live', async ({ request }) => {
  const { slug, headers } = await setUp(request);
  const stream = new ShapeStream({ url: `${base}/g/${slug}/v1/shape`, params: { table: 'announcements' }, headers });
  const shape = new Shape(stream);
  expect(await shape.rows).toEqual([]);

  const id = randomUUID();
  await mutate(request, slug, 'announcement.create', { id, title: 'Water off', body: '9 to 11' });
  const [row] = await until(shape, (rows) => rows.length === 1);
  expect(row).toMatchObject({ id, title: 'Water off', body: '9 to 11', pinned: false });

  await mutate(request, slug, 'announcement.update', { id, title: 'Water back on' });
  await until(shape, (rows) => rows[0]?.title === 'Water back on');
  expect(shape.currentRows[0].body).toBe('9 to 11');

  await mutate(request, slug, 'announcement.delete', { id });
  await until(shape, (rows) => rows.length === 0);
  stream.unsubscribeAll();
});

test('a stale handle gets a 409 and the client resyncs', async ({ request }) => {
  const { slug, headers } = await setUp(request);
  await mutate(request, slug, 'announcement.create', { id: randomUUID(), title: 'Kept', body: 'b' });
  const statuses: number[] = [];
  const fetchClient: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    statuses.push(response.status);
    return response;
  };
  const errors: unknown[] = [];
  const stream = new ShapeStream({
    url: `${base}/g/${slug}/v1/shape`,
    params: { table: 'announcements' },
    headers,
    handle: 'a-handle-this-server-never-gave',
    offset: '1_0',
    fetchClient,
    onError: (error) => { errors.push(error); },
  });
  const rows = await new Shape(stream).rows;
  expect(statuses[0]).toBe(409);
  expect(titles(rows)).toEqual(['Kept']);
  expect(errors).toEqual([]);
  stream.unsubscribeAll();
});

test('a where-filtered shape holds exactly the matching rows as they change', async ({ request }) => {
  const { slug, headers, schema } = await setUp(request);
  const ids = [randomUUID(), randomUUID(), randomUUID()];
  for (const [n, id] of ids.entries()) {
    await mutate(request, slug, 'announcement.create', { id, title: `Notice ${n}`, body: 'b' });
  }
  await mutate(request, slug, 'announcement.pin', { id: ids[0], pinned: true });
  const stream = new ShapeStream({
    url: `${base}/g/${slug}/v1/shape`,
    params: { table: 'announcements', where: 'pinned = $1', params: ['true'] },
    headers,
  });
  const shape = new Shape(stream);
  expect(titles(await shape.rows)).toEqual(['Notice 0']);

  await mutate(request, slug, 'announcement.pin', { id: ids[2], pinned: true });
  await until(shape, (rows) => rows.length === 2);
  await mutate(request, slug, 'announcement.pin', { id: ids[0], pinned: false });
  await until(shape, (rows) => rows.length === 1 && rows[0].id === ids[2]);
  await mutate(request, slug, 'announcement.update', { id: ids[2], title: 'Renamed' });
  await until(shape, (rows) => rows[0]?.title === 'Renamed');

  const pinned = await db.query(`SELECT id::text FROM "${schema}".announcements WHERE pinned`);
  expect(shape.currentRows.map((r) => r.id)).toEqual(pinned.rows.map((r) => r.id));
  stream.unsubscribeAll();
});

/** A fetch that records, for each request the client makes, whether it asked
 * for an event stream and what came back. */
function recordingFetch() {
  const seen: { live: boolean; sse: boolean; status: number; type: string }[] = [];
  const fetchClient: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const response = await fetch(input, init);
    seen.push({
      live: new URL(url).searchParams.get('live') === 'true',
      sse: new URL(url).searchParams.get('live_sse') === 'true',
      status: response.status,
      type: response.headers.get('content-type') ?? '',
    });
    return response;
  };
  return { seen, fetchClient };
}

test.describe('over server-sent events (liveSse)', () => {
  test('every table follows inserts, updates and deletes live', async ({ request }) => {
    const { slug, headers, schema } = await setUp(request);
    const { seen, fetchClient } = recordingFetch();
    const shapes = new Map<string, Shape<Row>>();
    const streams: ShapeStream<Row>[] = [];
    for (const table of tables) {
      const stream = new ShapeStream({ url: `${base}/g/${slug}/v1/shape`, params: { table }, headers, liveSse: true, fetchClient });
      streams.push(stream);
      const shape = new Shape(stream);
      await shape.rows;
      shapes.set(table, shape);
    }
    const room = randomUUID();
    const notice = randomUUID();
    const ask = randomUUID();
    const booking = randomUUID();
    await mutate(request, slug, 'resource.create', { id: room, name: 'Laundry' });
    await mutate(request, slug, 'announcement.create', { id: notice, title: 'Bins', body: 'Tuesday' });
    await mutate(request, slug, 'request.create', { id: ask, title: 'Tap', description: 'drips' });
    await mutate(request, slug, 'request.comment', { id: randomUUID(), request_id: ask, body: 'on it' });
    const startsAt = new Date(Date.now() + 86_400_000);
    await mutate(request, slug, 'booking.create', {
      id: booking, resource_id: room,
      starts_at: startsAt.toISOString(), ends_at: new Date(startsAt.getTime() + 3_600_000).toISOString(),
    });
    await mutate(request, slug, 'member.update_profile', { display_name: 'Ann B', unit: '2B' });
    await mutate(request, slug, 'announcement.update', { id: notice, title: 'Bins moved' });
    await mutate(request, slug, 'request.set_status', { id: ask, status: 'resolved' });
    await mutate(request, slug, 'booking.cancel', { id: booking });
    await mutate(request, slug, 'announcement.delete', { id: notice });
    // Each table's rows end equal to the database's, whole rows compared.
    for (const table of tables) {
      const pk = table === 'members' ? 'user_id' : 'id';
      const inDb = await db.query(`SELECT ${pk}::text AS pk, * FROM "${schema}"."${table}"`);
      const expected = new Map(inDb.rows.map((r) => [r.pk as string, r]));
      await until(shapes.get(table)!, (rows) => {
        if (rows.length !== expected.size) return false;
        return rows.every((row) => {
          const want = expected.get(row[pk] as string);
          return !!want && Object.keys(row).every((c) => String(row[c]) === String(want[c] instanceof Date ? row[c] : want[c]));
        });
      });
    }
    expect(shapes.get('members')!.currentRows[0].unit).toBe('2B');
    expect(shapes.get('requests')!.currentRows[0].status).toBe('resolved');
    // The live phase ran over event streams, and never fell back to long-polls.
    const live = seen.filter((s) => s.live);
    expect(live.length).toBeGreaterThan(0);
    expect(live.every((s) => s.sse && s.status === 200 && s.type === 'text/event-stream')).toBe(true);
    for (const stream of streams) stream.unsubscribeAll();
  });

  test('a 409 (the log no longer holds the offset) makes the client refetch', async ({ request }) => {
    const { slug, headers, schema } = await setUp(request);
    await mutate(request, slug, 'announcement.create', { id: randomUUID(), title: 'Kept', body: 'b' });
    const { seen, fetchClient } = recordingFetch();
    const stream = new ShapeStream({
      url: `${base}/g/${slug}/v1/shape`, params: { table: 'announcements' }, headers, liveSse: true, fetchClient,
    });
    const shape = new Shape(stream);
    expect(titles(await shape.rows)).toEqual(['Kept']);
    // The stream is open; the log then moves past where it stands, and is
    // trimmed to after it (as the retention job does), in one transaction.
    await expect.poll(() => seen.some((s) => s.sse)).toBe(true);
    await db.query(`BEGIN;
      INSERT INTO "${schema}".announcements (id, author_id, title, body)
        SELECT gen_random_uuid(), gen_random_uuid(), 'new ' || i, '' FROM generate_series(1, 3) i;
      DELETE FROM "${schema}".changes WHERE position < (SELECT position FROM "${schema}".change_head);
      UPDATE "${schema}".change_floor SET position = (SELECT position FROM "${schema}".change_head) - 1;
      COMMIT`);
    const rows = await until(shape, (rows) => rows.length === 4);
    expect(titles(rows)).toEqual(['Kept', 'new 1', 'new 2', 'new 3']);
    expect(seen.some((s) => s.status === 409), 'the refetch followed a 409').toBe(true);
    const inDb = await db.query(`SELECT title FROM "${schema}".announcements`);
    expect(titles(rows)).toEqual(inDb.rows.map((r) => r.title).sort());
    stream.unsubscribeAll();
  });

  test('a removed member: the stream ends and the next request is refused', async ({ request }) => {
    const { slug, headers } = await setUp(request);
    const { seen, fetchClient } = recordingFetch();
    const errors: unknown[] = [];
    const stream = new ShapeStream({
      url: `${base}/g/${slug}/v1/shape`, params: { table: 'announcements' }, headers, liveSse: true, fetchClient,
      onError: (error) => { errors.push(error); },
    });
    const shape = new Shape(stream);
    await shape.rows;
    await expect.poll(() => seen.some((s) => s.sse)).toBe(true);
    await db.query('DELETE FROM memberships WHERE group_id = (SELECT id FROM groups WHERE slug = $1)', [slug]);
    await expect.poll(() => seen.some((s) => s.status === 404), { timeout: 20_000 }).toBe(true);
    await expect.poll(() => errors.length, { timeout: 20_000 }).toBeGreaterThan(0);
    stream.unsubscribeAll();
  });
});
