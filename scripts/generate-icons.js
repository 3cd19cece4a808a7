#!/usr/bin/env node
// Draws the Teams app icons as PNGs with no image library: a parcel with a keyhole (a package
// of access), in the two forms Teams asks for (learn.microsoft.com/microsoftteams/platform/
// concepts/build-and-test/apps-package#app-icons):
// - color.png, 192×192: the symbol inside the central 96×96 (48 px of padding, so Teams can crop
//   it to a rounded square or a hexagon) on a solid, square, fully opaque background: Teams
//   rounds the corners itself, so the file must not;
// - outline.png, 32×32: pure white (255,255,255) on full transparency, no padding.
// Run: node scripts/generate-icons.js (test/unit/appPackage.test.ts checks both files).
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buffer) {
  let c = 0xffffffff;
  for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** An 8-bit RGBA PNG of size×size; pixel(x, y) gives [r, g, b, a]. */
function encodePng(size, pixel) {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    for (let x = 0; x < size; x++) raw.set(pixel(x, y), y * (size * 4 + 1) + 1 + x * 4);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// ---------------------------------------------------------------------------------------
// The symbol, in unit coordinates (0..1 across its box): a parcel seen from the front, its lid
// a little wider than its body, and a keyhole through the body.

function roundedRect(u, v, left, top, right, bottom, radius) {
  if (u < left || u > right || v < top || v > bottom) return false;
  const cx = Math.min(Math.max(u, left + radius), right - radius);
  const cy = Math.min(Math.max(v, top + radius), bottom - radius);
  return Math.hypot(u - cx, v - cy) <= radius;
}

const LID = [0, 0.08, 1, 0.34];
const BODY = [0.07, 0.4, 0.93, 0.95];

function insideLid(u, v) {
  return roundedRect(u, v, ...LID, 0.06);
}

function insideBody(u, v) {
  return roundedRect(u, v, ...BODY, 0.07);
}

/** The keyhole: a round head and a tapering slot below it, centred on the body. */
function insideKeyhole(u, v) {
  const cx = 0.5;
  const head = Math.hypot(u - cx, v - 0.6) <= 0.085;
  const t = (v - 0.6) / (0.83 - 0.6);
  const halfWidth = 0.035 + 0.025 * t;
  const slot = v >= 0.6 && v <= 0.83 && Math.abs(u - cx) <= halfWidth;
  return head || slot;
}

/** The lid's handle notch: a short bar cut in the middle of the lid, as on a storage box. */
function insideNotch(u, v) {
  return roundedRect(u, v, 0.38, 0.17, 0.62, 0.25, 0.04);
}

// Coverage by n×n supersampling, for smooth edges at small sizes.
function coverage(x, y, size, inside, n = 6) {
  let hits = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (inside((x + (i + 0.5) / n) / size, (y + (j + 0.5) / n) / size)) hits++;
  return hits / (n * n);
}

function mix(a, b, t) {
  return a.map((c, i) => Math.round(c * (1 - t) + b[i] * t));
}

const BACKGROUND = [29, 78, 216]; // #1D4ED8
const WHITE = [255, 255, 255];
const LID_TINT = [219, 234, 254]; // #DBEAFE: the lid reads as a separate piece

function colorIcon(size) {
  // The symbol's 96×96 box in the middle of 192: 48 px of padding on every side.
  const box = { left: size / 4, top: size / 4, side: size / 2 };
  const inBox = (f) => (u, v) => f((u * size - box.left) / box.side, (v * size - box.top) / box.side);
  return encodePng(size, (x, y) => {
    const lid = coverage(x, y, size, inBox((u, v) => insideLid(u, v) && !insideNotch(u, v)));
    const body = coverage(x, y, size, inBox((u, v) => insideBody(u, v) && !insideKeyhole(u, v)));
    let rgb = BACKGROUND;
    rgb = mix(rgb, LID_TINT, lid);
    rgb = mix(rgb, WHITE, body);
    return [...rgb, 255];
  });
}

function outlineIcon(size) {
  // No padding: the lid spans the full width.
  return encodePng(size, (x, y) => {
    const alpha = coverage(x, y, size, (u, v) => (insideLid(u, v) && !insideNotch(u, v)) || (insideBody(u, v) && !insideKeyhole(u, v)));
    return [255, 255, 255, Math.round(255 * alpha)];
  });
}

if (require.main === module) {
  const out = path.resolve(__dirname, '..', 'appPackage');
  fs.writeFileSync(path.join(out, 'color.png'), colorIcon(192));
  fs.writeFileSync(path.join(out, 'outline.png'), outlineIcon(32));
  console.log(`icons written to ${out}`);
}

module.exports = { encodePng, colorIcon, outlineIcon };
