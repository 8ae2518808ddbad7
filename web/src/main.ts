import "./ui/styles.css";
import { startApp } from "./ui/app";
import { showInsecureContextNotice } from "./ui/insecure";

showInsecureContextNotice();
startApp();
