import assert from "node:assert/strict";
import { after, before } from "node:test";
import { createLab, leftoverNamespaces } from "./netlab.mjs";

/**
 * One lab for the tests of a `describe`: its namespaces and the server in them, built before the
 * tests and destroyed after them with no namespace left behind. A test that restarts the server sets
 * `url` anew.
 */
export function labSuite(sides) {
  const env = { lab: null, url: "" };
  before(async () => {
    env.lab = await createLab(sides);
    env.url = (await env.lab.startServer()).url;
  });
  after(async () => {
    const prefix = env.lab?.prefix;
    await env.lab?.destroy();
    if (prefix) assert.deepEqual(leftoverNamespaces(prefix), []);
  });
  return env;
}
