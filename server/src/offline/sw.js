// Courtyard's service worker: keeps the app shell (pages visited, and the
// WASM, JS and CSS of this build) so a visited group page opens with no
// network. Served by the server at /sw.js with `BUILD` set to a digest of
// the build's files (see docs/offline.md), so every build is a new worker
// with its own cache, and an old build's pages never meet a new build's WASM.
//
// Online, everything is fetched from the network first (always current)
// and the answer kept; offline, the kept copy answers. API calls, server
// functions and the shape stream are never kept here: the app keeps its
// data in IndexedDB.
//
// Pages are one person's: the server names whose (`courtyard-user`, empty
// when signed out) and when their session ends (`courtyard-session-ends`).
// The worker remembers who is signed in here; when someone else (or no one)
// is, it forgets the other person's pages, and it never answers with a
// page of anyone but the person signed in, nor after their session ended.
// Any sign-in or sign-out forgets every kept page at once.
const CACHE = `courtyard-${BUILD}`;
// Who is signed in on this browser, kept across builds and restarts.
const SESSION = 'courtyard-session';
const SESSION_KEY = '/__courtyard/session';
const SHELL = ['/pkg/courtyard.js', '/pkg/courtyard.wasm', '/pkg/courtyard.css', '/favicon.svg', '/manifest.webmanifest'];
// Where sessions begin and end.
const SIGN_IN_OUT = [
  '/fn/log_in',
  '/fn/sign_up',
  '/fn/log_out',
  '/fn/reset_password',
  '/fn/end_session',
  '/fn/delete_account',
  '/api/auth/login',
  '/api/auth/signup',
  '/api/auth/logout',
  '/api/auth/reset/confirm',
  '/api/account/delete',
];
// Bumped whenever someone signs in or out: an answer to a request made
// before that (a page still loading as the last person) is not kept, nor
// taken as saying who is signed in.
let epoch = 0;
// Every change to the kept pages and the session runs here, one after the
// other, so a change checks the epoch with no other change in between.
let changes = Promise.resolve();
function serially(change) {
  const run = changes.then(change);
  changes = run.catch(() => undefined);
  return run;
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names.filter((n) => n.startsWith('courtyard-') && n !== CACHE && n !== SESSION).map((n) => caches.delete(n)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

function keptHere(request) {
  if (request.method !== 'GET') return false;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return false;
  if (request.mode === 'navigate') return true;
  return SHELL.includes(url.pathname);
}

function signsInOrOut(request) {
  const url = new URL(request.url);
  return request.method === 'POST' && url.origin === self.location.origin && SIGN_IN_OUT.includes(url.pathname);
}

self.addEventListener('fetch', (event) => {
  if (signsInOrOut(event.request)) {
    event.respondWith(newSession(event.request));
    return;
  }
  if (!keptHere(event.request)) return;
  event.respondWith(networkFirst(event.request));
});

// Someone signs in or out: whoever's pages were kept, they go, and no page
// is served again until one names who is signed in now.
async function newSession(request) {
  epoch += 1;
  const response = await fetch(request);
  if (response.status < 400) {
    epoch += 1;
    await serially(async () => {
      await forgetPages();
      await setSession({ user: '(changed)', ends: 0 });
    });
  }
  return response;
}

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  const asked = epoch;
  try {
    const response = await fetch(request);
    await keep(cache, request, response, asked);
    return response;
  } catch (offline) {
    const kept = await cache.match(request, { ignoreVary: true });
    if (kept && (await servable(kept))) return kept;
    if (request.mode !== 'navigate') throw offline;
    // The page is kept without this query (another week, say): go there
    // rather than show a page the app would render differently.
    const url = new URL(request.url);
    const plain = url.search ? await cache.match(url.pathname, { ignoreVary: true }) : undefined;
    if (plain && (await servable(plain))) {
      return Response.redirect(url.pathname, 302);
    }
    return offlinePage();
  }
}

// Notes whose a fresh answer is, then keeps it if it is a good page (one
// that says whose it is: not an error, a 404 page or a login redirect) or
// a shell file, unless someone signed in or out since it was asked for
// (`asked`: the epoch then).
function keep(cache, request, response, asked) {
  const path = new URL(typeof request === 'string' ? request : request.url, self.location.origin).pathname;
  const owned = response.headers.get('courtyard-user') !== null;
  const secret = (response.headers.get('cache-control') || '').includes('no-store');
  const good = response.ok && !response.redirected && !secret && (owned || SHELL.includes(path));
  const copy = good ? response.clone() : undefined;
  return serially(async () => {
    if (asked !== epoch) return;
    await noteSession(response);
    if (copy) await cache.put(request, copy);
  });
}

async function currentSession() {
  const kept = await (await caches.open(SESSION)).match(SESSION_KEY);
  return kept ? kept.json() : { user: '', ends: 0 };
}

// A page says who is signed in: if that changed, the pages of whoever was
// signed in before are forgotten.
async function noteSession(response) {
  const user = response.headers.get('courtyard-user');
  if (user === null) return;
  const ends = Number(response.headers.get('courtyard-session-ends')) || 0;
  const before = await currentSession();
  if (before.user !== user) await forgetPages();
  await setSession({ user, ends });
}

async function setSession(session) {
  const body = JSON.stringify(session);
  await (await caches.open(SESSION)).put(SESSION_KEY, new Response(body, { headers: { 'content-type': 'application/json' } }));
}

// A kept answer may be shown if it is nobody's (a file, a signed-out page)
// or the signed-in person's while their session lasts.
async function servable(kept) {
  const owner = kept.headers.get('courtyard-user');
  if (!owner) return true;
  const session = await currentSession();
  return owner === session.user && Date.now() < session.ends * 1000;
}

// Drops every kept page (the shell files stay: they are nobody's).
async function forgetPages() {
  const cache = await caches.open(CACHE);
  const requests = await cache.keys();
  await Promise.all(
    requests.filter((r) => !SHELL.includes(new URL(r.url).pathname)).map((r) => cache.delete(r)),
  );
}

function offlinePage() {
  const html = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Offline · Courtyard</title>
<link rel="stylesheet" href="/pkg/courtyard.css"></head><body><main>
<h1>You are offline</h1><p>This page was not saved on this device. Pages of your group you have
opened before work offline; this one will open when the connection is back.</p>
<p><a href="/">Back to the start</a></p></main></body></html>`;
  return new Response(html, {
    status: 503,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': "default-src 'self'; script-src 'none'; frame-ancestors 'none'",
    },
  });
}

// The app asks for its group's pages to be kept once it has synced them,
// and for every page to be forgotten when its person signs out.
self.addEventListener('message', (event) => {
  const data = event.data || {};
  if (data.forget === true) {
    epoch += 1;
    event.waitUntil(serially(() => forgetPages().then(() => setSession({ user: '', ends: 0 }))));
    return;
  }
  if (typeof data.forget_group === 'string' && data.forget_group) {
    // Left or removed from a group: its kept pages go too.
    const base = `/g/${data.forget_group}`;
    event.waitUntil(
      serially(async () => {
        const cache = await caches.open(CACHE);
        const requests = await cache.keys();
        await Promise.all(
          requests
            .filter((r) => {
              const path = new URL(r.url).pathname;
              return path === base || path.startsWith(`${base}/`);
            })
            .map((r) => cache.delete(r)),
        );
      }),
    );
    return;
  }
  const urls = data.keep;
  if (!Array.isArray(urls)) return;
  const asked = epoch;
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      Promise.all(
        urls
          .filter((u) => typeof u === 'string' && u.startsWith('/g/'))
          .map((u) =>
            fetch(u, { credentials: 'same-origin' })
              .then((r) => keep(cache, u, r, asked))
              .catch(() => undefined),
          ),
      ),
    ),
  );
});
