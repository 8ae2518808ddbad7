// Vitest 5's reporters call Map.groupBy, which Node.js has from version 21; this machine and CI run
// Node.js 20, where a failing test crashed the reporter before it could name the test. Loaded with
// `node --import` by the test:unit script only; nothing here reaches the app.
if (typeof Map.groupBy !== "function") {
  Object.defineProperty(Map, "groupBy", {
    configurable: true,
    writable: true,
    value(items, keyOf) {
      const groups = new Map();
      let index = 0;
      for (const item of items) {
        const key = keyOf(item, index++);
        const group = groups.get(key);
        if (group) group.push(item);
        else groups.set(key, [item]);
      }
      return groups;
    },
  });
}
