// The e2e test build's entry (vite.e2e.config.ts → web/dist-e2e): the shipped app, plus
// `window.__ghostchatMesh` for the tests and benchmarks that cut links or count arrivals. The
// production bundle (web/dist) is built from src/main.ts and has none of this.
import "../src/ui/styles.css";
import { installTrustedTypesPolicy } from "../src/ui/trusted-types";
import { startApp } from "../src/ui/app";
import { showInsecureContextNotice } from "../src/ui/insecure";
import { exposeRoom } from "./hooks";
import { LinkCutter } from "./links";

installTrustedTypesPolicy(); // before anything can reach a Trusted Types sink
// One cutter per room: each room's signaling peer is wrapped when the session makes it.
let links = new LinkCutter();
if (!showInsecureContextNotice().blocking)
  startApp({
    peer: (port) => links.wrap(port),
    room: (session) => {
      links = new LinkCutter();
      exposeRoom(session, links);
    },
  });
