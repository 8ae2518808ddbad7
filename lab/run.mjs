// lab/run: one command that brings the network lab up, runs browsers in the chosen sides and tears
// everything down (also on Ctrl-C or a failure).
//
//   lab/run chat HOST_SCENARIO GUEST_SCENARIO   a chat between two sides: time to chat-ready and path
//   lab/run diagnose SCENARIO…                  the diagnostics page in each side: verdicts
//   lab/run up SCENARIO…                        lab + server, then waits for Ctrl-C (explore by hand)
import { createLab, labUnavailableReason, leftoverNamespaces, SCENARIOS } from "./netlab.mjs";
import { newPage, runDiagnosticsPage, sendAndReceive, waitPath } from "./browser.mjs";
import { createRoomAndJoin } from "./pair.mjs";

const [command, ...names] = process.argv.slice(2);
const usage = `usage: lab/run chat HOST GUEST | lab/run diagnose SCENARIO… | lab/run up SCENARIO…\nscenarios: ${Object.keys(SCENARIOS).join(", ")}`;

async function main() {
  if (!["chat", "diagnose", "up"].includes(command) || names.length === 0 || (command === "chat" && names.length !== 2)) {
    console.error(usage);
    process.exit(2);
  }
  const reason = labUnavailableReason();
  if (reason) {
    console.error(`lab/run: ${reason}`);
    process.exit(2);
  }
  const lab = await createLab(names);
  let code = 0;
  try {
    const { url } = await lab.startServer();
    console.log(`lab ${lab.prefix}*: server ${url}; sides: ${lab.sides.map((s) => `${s.index}=${s.name} (client ${s.clientIp}, router ${s.wanIp})`).join(", ")}`);
    if (command === "up") {
      console.log(`namespaces: ${leftoverNamespaces(lab.prefix).join(" ")}\ntry: ip netns exec ${lab.ns("c1")} curl -s ${url}/healthz\nCtrl-C tears everything down.`);
      await new Promise(() => undefined);
    } else if (command === "diagnose") {
      await Promise.all(lab.sides.map(async (side) => {
        const { page, context } = await newPage(await lab.launchChromium(side.index));
        const r = await runDiagnosticsPage(page, url);
        console.log(`${side.name}: ${r.outlook} — ${r.verdicts.join(", ")}\n  ${r.headline}`);
        await context.close();
      }));
    } else {
      const host = await newPage(await lab.launchChromium(1));
      const guest = await newPage(await lab.launchChromium(2));
      const ms = await createRoomAndJoin(host.page, guest.page, url);
      const [hp, gp] = await Promise.all([waitPath(host.page), waitPath(guest.page)]);
      await sendAndReceive(host.page, guest.page, "hello through the lab");
      console.log(`chat ready ${ms} ms after the invite opened; path host ${hp.path}, guest ${gp.path}; round trip ${gp.rtt ?? "?"} ms`);
    }
  } catch (e) {
    console.error(`lab/run: ${e.message}`);
    code = 1;
  } finally {
    await lab.destroy();
    const left = leftoverNamespaces(lab.prefix);
    if (left.length > 0) {
      console.error(`lab/run: namespaces left behind: ${left.join(" ")}`);
      code = 1;
    }
  }
  process.exit(code);
}

main();
