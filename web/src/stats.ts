import "./ui/styles.css";
import { startStats } from "./ui/stats";

startStats();
