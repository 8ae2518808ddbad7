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

// A notification of a new message (ui/attention.ts) was clicked: bring back the tab of that room,
// or the app if the tab is gone. Notifications never carry message text unless the person asked.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = event.notification.data && typeof event.notification.data.url === "string" ? event.notification.data.url : "/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const same = windows.find((w) => w.url === url) || windows[0];
      return same ? same.focus() : self.clients.openWindow("/");
    }),
  );
});
