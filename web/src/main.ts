import "./ui/styles.css";
import { installTrustedTypesPolicy } from "./ui/trusted-types";
import { startApp } from "./ui/app";
import { showInsecureContextNotice } from "./ui/insecure";

installTrustedTypesPolicy(); // before anything can reach a Trusted Types sink
// Without a secure context there is no WebCrypto, so no invite handshake: explain instead of starting.
if (!showInsecureContextNotice().blocking) startApp();
