#!/usr/bin/env node
// Draws the Teams app icons (a key on a package tile) as PNGs with no image library:
// color.png 192×192 full colour, outline.png 32×32 white on transparent, as Teams requires.
// Run: node scripts/generate-icons.js
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

function encodePng(size, pixel) {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    for (let x = 0; x < size; x++) {
      const [r, g, b, a] = pixel(x, y);
      raw.set([r, g, b, a], y * (size * 4 + 1) + 1 + x * 4);
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// The key, in unit coordinates (0..1): a ring, a shaft and two teeth.
function insideKey(u, v) {
  const dx = u - 0.34;
  const dy = v - 0.5;
  const r = Math.hypot(dx, dy);
  if (r <= 0.19 && r >= 0.085) return true;
  if (u >= 0.5 && u <= 0.84 && v >= 0.455 && v <= 0.545) return true;
  if (u >= 0.68 && u <= 0.74 && v >= 0.545 && v <= 0.66) return true;
  if (u >= 0.78 && u <= 0.84 && v >= 0.545 && v <= 0.7) return true;
  return false;
}

function insideRoundedSquare(u, v, radius) {
  const cx = Math.min(Math.max(u, radius), 1 - radius);
  const cy = Math.min(Math.max(v, radius), 1 - radius);
  return Math.hypot(u - cx, v - cy) <= radius;
}

// Coverage by 4×4 supersampling, for smooth edges at small sizes.
function coverage(x, y, size, inside) {
  let hits = 0;
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) if (inside((x + (i + 0.5) / 4) / size, (y + (j + 0.5) / 4) / size)) hits++;
  return hits / 16;
}

function colorIcon(size) {
  return encodePng(size, (x, y) => {
    const tile = coverage(x, y, size, (u, v) => insideRoundedSquare(u, v, 0.22));
    // The key sits inset on the tile.
    const key = coverage(x, y, size, (u, v) => insideKey((u - 0.12) / 0.76, (v - 0.12) / 0.76));
    const t = y / size; // vertical gradient: #2563EB → #1E3A8A
    const bg = [Math.round(37 - 7 * t), Math.round(99 - 41 * t), Math.round(235 - 97 * t)];
    const rgb = bg.map((c) => Math.round(c * (1 - key) + 255 * key));
    return [...rgb, Math.round(255 * tile)];
  });
}

function outlineIcon(size) {
  return encodePng(size, (x, y) => [255, 255, 255, Math.round(255 * coverage(x, y, size, (u, v) => insideKey((u - 0.04) / 0.92, (v - 0.04) / 0.92)))]);
}

const out = path.resolve(__dirname, '..', 'appPackage');
fs.writeFileSync(path.join(out, 'color.png'), colorIcon(192));
fs.writeFileSync(path.join(out, 'outline.png'), outlineIcon(32));
console.log(`icons written to ${out}`);
