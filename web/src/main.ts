import "./ui/styles.css";
import { startApp } from "./ui/app";
import { showInsecureContextNotice } from "./ui/insecure";

// Without a secure context there is no WebCrypto, so no invite handshake: explain instead of starting.
if (!showInsecureContextNotice().blocking) startApp();
