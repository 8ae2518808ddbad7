import "./ui/styles.css";
import { startDiagnostics } from "./ui/diagnostics";

startDiagnostics();
