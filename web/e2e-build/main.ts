// The e2e test build's entry (vite.e2e.config.ts → web/dist-e2e): the shipped app, plus
// `window.__ghostchatMesh` for the tests and benchmarks that cut links or count arrivals. The
// production bundle (web/dist) is built from src/main.ts and has none of this.
import "../src/ui/styles.css";
import { installTrustedTypesPolicy } from "../src/ui/trusted-types";
import { startApp } from "../src/ui/app";
import { showInsecureContextNotice } from "../src/ui/insecure";
import { exposeRoom } from "./hooks";

installTrustedTypesPolicy(); // before anything can reach a Trusted Types sink
if (!showInsecureContextNotice().blocking) startApp({ room: exposeRoom });
