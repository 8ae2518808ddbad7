/**
 * Removes the metadata segments of a JPEG that can say where and with what a picture was taken:
 * APP1 (Exif — GPS position, camera, time, thumbnail — and XMP) and APP13 (Photoshop/IPTC, which
 * has location fields). JFIF (APP0), the colour profile (APP2) and Adobe's colour transform (APP14)
 * stay, so the picture looks the same; the orientation tag goes with Exif, so a phone picture may
 * show turned. Everything from the start of the scan (SOS) on is copied unchanged.
 *
 * Returns null when the bytes are not a JPEG whose segments can be walked; the caller then sends
 * nothing it could not check (ui: the user is told and may send the file as it is).
 */
export function stripJpegMetadata(bytes: Uint8Array): { bytes: Uint8Array; removed: number } | null {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  const keep: Uint8Array[] = [bytes.subarray(0, 2)];
  let removed = 0;
  let i = 2;
  for (;;) {
    if (i + 4 > bytes.length || bytes[i] !== 0xff) return null;
    // Fill bytes (0xFF repeated) may precede a marker.
    let m = i + 1;
    while (m < bytes.length && bytes[m] === 0xff) m++;
    if (m + 2 >= bytes.length) return null;
    const marker = bytes[m]!;
    const length = (bytes[m + 1]! << 8) | bytes[m + 2]!;
    const end = m + 1 + length;
    if (length < 2 || end > bytes.length) return null;
    if (marker === 0xda) {
      keep.push(bytes.subarray(i));
      break;
    }
    if (marker === 0xe1 || marker === 0xed) removed++;
    else keep.push(bytes.subarray(i, end));
    i = end;
  }
  if (removed === 0) return { bytes, removed };
  const out = new Uint8Array(keep.reduce((n, k) => n + k.length, 0));
  let at = 0;
  for (const k of keep) {
    out.set(k, at);
    at += k.length;
  }
  return { bytes: out, removed };
}
