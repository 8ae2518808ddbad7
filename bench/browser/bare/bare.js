// The baseline: the official PeerJS client doing the bare minimum through the same server.
// Host: index.html?server=PORT → opens a Peer, echoes every message. Guest: ...&host=ID → connects.
(() => {
  const params = new URLSearchParams(location.search);
  const port = Number(params.get("server"));
  const hostId = params.get("host");
  const ice = JSON.parse(params.get("ice") || "[]");
  // render=1: show each message as a plain list item, like the most minimal chat would.
  const render = params.get("render") === "1";
  const list = document.createElement("ol");
  document.body.append(list);
  const show = (text) => {
    if (!render) return;
    const li = document.createElement("li");
    li.textContent = text;
    list.append(li);
  };
  const peer = new peerjs.Peer({ host: "127.0.0.1", port, path: "/", key: "peerjs", secure: false, debug: 0, config: { iceServers: ice } });
  const state = document.getElementById("state");
  window.bare = { peer, conn: null, show: (text) => show(text) };
  peer.on("open", (id) => {
    window.bare.id = id;
    state.textContent = "open";
    if (hostId) {
      const conn = peer.connect(hostId, { reliable: true, serialization: "json" });
      conn.on("open", () => {
        performance.mark("bare:chat-ready");
        window.bare.conn = conn;
        state.textContent = "ready";
      });
    }
  });
  peer.on("connection", (conn) => {
    conn.on("data", (d) => {
      conn.send({ t: "ack", id: d.id });
      show(d.text);
    });
    conn.on("open", () => (state.textContent = "ready"));
  });
})();
