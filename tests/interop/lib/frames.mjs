// Helpers that build and check PeerJS envelopes in scenarios.
//   envelope(type, src, dst, payload) -> the exact text a server relays (key order type,src,dst,payload;
//                                        absent fields omitted)
//   marker(from, to, n?) -> sends an OFFER marker from `from` to `to.id` and returns its expected text;
//                           awaiting it on `to` proves every earlier frame to `to` was seen
export function envelope(type, src, dst, payload) {
  const o = { type };
  if (src !== undefined) o.src = src;
  if (dst !== undefined) o.dst = dst;
  if (payload !== undefined) o.payload = payload;
  return JSON.stringify(o);
}

let seq = 0;
export function marker(from, to) {
  seq += 1;
  const payload = { marker: seq };
  from.send({ type: 'OFFER', dst: to.id, payload });
  return envelope('OFFER', from.id, to.id, payload);
}

/** Wait for nothing to happen: used only to assert the ABSENCE of a frame or a close. */
export const quietPeriod = (ms) => new Promise((r) => setTimeout(r, ms));
