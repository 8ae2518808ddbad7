/* GhostChat service worker: precaches the app shell of this build so a reload offline shows the
   app (which then says honestly that it is offline). Never caches API calls or signaling. */
const SHELL = __SHELL__;
const VERSION = __VERSION__;
const CACHE = "ghostchat-shell-" + VERSION;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("ghostchat-shell-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// Another app shared text or a link with the installed app (the manifest's share_target posts it
// here): it is kept in a cache of this browser for a moment, the page opens at "/?shared" and takes it
// (ui/app.ts) and deletes it. Nothing of it goes to the server.
const SHARE_CACHE = "ghostchat-share";
const SHARE_FIELDS = ["share-title", "share-text", "share-url"];

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method === "POST" && url.origin === self.location.origin && url.pathname === "/share-target") {
    event.respondWith(
      request
        .formData()
        .then((form) => {
          const params = new URLSearchParams();
          for (const k of SHARE_FIELDS) if (typeof form.get(k) === "string") params.set(k, String(form.get(k)).slice(0, 20000));
          return caches.open(SHARE_CACHE).then((cache) => cache.put("/shared", new Response(params.toString())));
        })
        .catch(() => undefined)
        .then(() => Response.redirect("/?shared", 303)),
    );
    return;
  }
  if (request.method !== "GET") return;
  if (url.origin !== self.location.origin || url.pathname.startsWith("/api/") || url.pathname.startsWith("/peerjs")) return;
  if (request.mode === "navigate") {
    // Network first so a new build shows at once; the cached shell when offline.
    event.respondWith(fetch(request).catch(() => caches.match("/", { cacheName: CACHE }).then((r) => r || Response.error())));
    return;
  }
  if (SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname, { cacheName: CACHE }).then((r) => r || fetch(request)));
  }
});

// A tab asks for a notification of a new message (ui/attention.ts, while it is hidden). Shown from
// here, so it carries the asking tab's client id: a click brings back that very tab, not just any tab
// of GhostChat. Only the asking tab's own words, capped; nothing is kept.
self.addEventListener("message", (event) => {
  const m = event.data;
  const source = event.source;
  if (!m || m.type !== "notify" || typeof m.title !== "string" || typeof m.body !== "string" || !source || typeof source.id !== "string") return;
  event.waitUntil(
    self.registration
      .showNotification(m.title.slice(0, 120), {
        body: m.body.slice(0, 200),
        tag: typeof m.tag === "string" ? m.tag.slice(0, 40) : "ghostchat-message",
        // A client's url is the address the tab was opened with: an invite's secret (#join=…) stays out.
        data: { client: source.id, url: withoutFragment(source.url) },
      })
      .catch(() => undefined),
  );
});

// A notification of a new message was clicked: bring back the tab of that room (by its client id;
// by its address for a notification shown by the page itself), else another GhostChat tab, else a new one.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  event.waitUntil(
    (typeof data.client === "string" ? self.clients.get(data.client) : Promise.resolve(undefined))
      .then(
        (tab) =>
          tab ||
          self.clients
            .matchAll({ type: "window", includeUncontrolled: true })
            .then((windows) => windows.find((w) => withoutFragment(w.url) === data.url) || windows[0]),
      )
      .then((tab) => (tab ? tab.focus() : self.clients.openWindow("/"))),
  );
});

function withoutFragment(url) {
  return String(url).split("#")[0];
}
