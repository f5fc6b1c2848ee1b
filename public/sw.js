// Confab's service worker: what lets the app open without a network and show notifications
// while no tab is open.
//
// - Offline: every page and asset fetched with GET goes to the network first; a good answer is
//   kept in the cache, and when the network fails the cached copy is served (a page not seen
//   yet falls back to the last room list seen, "/"). Pages hold the user's rooms and history,
//   so the app clears this cache when they log out. Server functions, the live socket and
//   files are never cached.
// - Push: each push carries an encrypted JSON payload (docs/protocol.md#push); it is shown as a
//   notification whose tag it names, so a repeat replaces it. A click focuses an open Confab
//   tab at the message, or opens one.
// - Releases: the server puts BUNDLE (this release's WASM, JS and CSS, named by their hashes)
//   and RELEASE (a name that changes with them) above this file. A new release is a new worker;
//   it precaches its bundle when it installs, and drops every older release's cache when it
//   takes over, so old bundles do not pile up.

const RELEASE_NAME = typeof RELEASE === "string" ? RELEASE : "dev";
const CACHE = `confab-${RELEASE_NAME}`;
const SHELL = ["/", "/manifest.webmanifest", "/icons/icon-192.png", "/icons/icon-512.png"];
const PRECACHE = SHELL.concat(typeof BUNDLE === "undefined" ? [] : BUNDLE);

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      // Each on its own: one that fails (offline, signed out) must not cost the others.
      .then((cache) => Promise.all(PRECACHE.map((url) => cache.add(url).catch(() => {}))))
      .catch(() => {})
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function cacheable(request) {
  if (request.method !== "GET") return false;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return false;
  return !(url.pathname.startsWith("/api/") || url.pathname === "/ws" ||
    url.pathname.startsWith("/files/") || url.pathname.startsWith("/export/"));
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (!cacheable(request)) return;
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok && response.type === "basic") {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      })
      .catch(async () => {
        const cached = await caches.match(request, { ignoreVary: true });
        if (cached) return cached;
        if (request.mode === "navigate") {
          const home = await caches.match("/");
          if (home) return home;
        }
        return new Response("Confab is offline and has no copy of this page.", {
          status: 503,
          headers: { "Content-Type": "text/plain; charset=utf-8" },
        });
      }),
  );
});

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (_) {
    data = {};
  }
  const title = data.title || "Confab";
  event.waitUntil(
    self.registration.showNotification(title, {
      body: data.body || "New activity",
      tag: data.tag || "confab",
      icon: "/icons/icon-192.png",
      badge: "/icons/icon-192.png",
      data: { url: data.url || "/" },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = new URL((event.notification.data && event.notification.data.url) || "/",
    self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(async (tabs) => {
      for (const tab of tabs) {
        if (new URL(tab.url).origin === self.location.origin) {
          // Focusing needs the click's user activation; navigating works regardless.
          try {
            await tab.focus();
          } catch (_) {}
          return tab.navigate(target);
        }
      }
      return self.clients.openWindow(target);
    }),
  );
});
