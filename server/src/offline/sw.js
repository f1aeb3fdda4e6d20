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
const CACHE = `courtyard-${BUILD}`;
const SHELL = ['/pkg/courtyard.js', '/pkg/courtyard.wasm', '/pkg/courtyard.css', '/favicon.svg', '/manifest.webmanifest'];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith('courtyard-') && n !== CACHE).map((n) => caches.delete(n))))
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

self.addEventListener('fetch', (event) => {
  if (!keptHere(event.request)) return;
  event.respondWith(networkFirst(event.request));
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    // Keep good pages and files only (not a 404 page or a login redirect).
    if (response.ok && !response.redirected) {
      await cache.put(request, response.clone());
    }
    return response;
  } catch (offline) {
    const kept = await cache.match(request, { ignoreVary: true });
    if (kept) return kept;
    if (request.mode !== 'navigate') throw offline;
    // The page is kept without this query (another week, say): go there
    // rather than show a page the app would render differently.
    const url = new URL(request.url);
    if (url.search && (await cache.match(url.pathname, { ignoreVary: true }))) {
      return Response.redirect(url.pathname, 302);
    }
    return offlinePage();
  }
}

function offlinePage() {
  const html = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Offline · Courtyard</title>
<link rel="stylesheet" href="/pkg/courtyard.css"></head><body><main>
<h1>You are offline</h1><p>This page was not saved on this device. Pages of your group you have
opened before work offline; this one will open when the connection is back.</p>
<p><a href="/">Back to the start</a></p></main></body></html>`;
  return new Response(html, { status: 503, headers: { 'content-type': 'text/html; charset=utf-8' } });
}

// The app asks for its group's pages to be kept once it has synced them.
self.addEventListener('message', (event) => {
  const urls = event.data && event.data.keep;
  if (!Array.isArray(urls)) return;
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      Promise.all(
        urls
          .filter((u) => typeof u === 'string' && u.startsWith('/g/'))
          .map((u) =>
            fetch(u, { credentials: 'same-origin' })
              .then((r) => (r.ok && !r.redirected ? cache.put(u, r) : undefined))
              .catch(() => undefined),
          ),
      ),
    ),
  );
});
