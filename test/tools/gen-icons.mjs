#!/usr/bin/env node
/**
 * Generates the app and tray icons in assets/ with no dependencies and no network: shapes are
 * drawn as signed-distance functions with 4x4 supersampling and written as PNG with node's zlib;
 * `.ico` and `.icns` embed those PNGs; the dashboard's favicon too. Outputs are committed; run again after changing a shape:
 *   node test/tools/gen-icons.mjs
 *
 * The mark: one endpoint (left node) fanning out to a pool of three backends (right nodes).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = join(root, 'assets');

// ---------- PNG ----------
const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** RGBA (Uint8Array, w*h*4) → PNG bytes. */
function encodePng(w, h, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc((w * 4 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 4 + 1)] = 0; // filter: none
    Buffer.from(rgba.buffer, rgba.byteOffset + y * w * 4, w * 4).copy(raw, y * (w * 4 + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// ---------- shapes (unit square coordinates, y down) ----------
const circle = (cx, cy, r) => (x, y) => Math.hypot(x - cx, y - cy) - r;
const ring = (cx, cy, r, w) => (x, y) => Math.abs(Math.hypot(x - cx, y - cy) - r) - w / 2;
function segment(ax, ay, bx, by, w) {
  return (x, y) => {
    const px = x - ax, py = y - ay, dx = bx - ax, dy = by - ay;
    const t = Math.max(0, Math.min(1, (px * dx + py * dy) / (dx * dx + dy * dy)));
    return Math.hypot(px - t * dx, py - t * dy) - w / 2;
  };
}
function roundRect(x0, y0, x1, y1, r) {
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, hx = (x1 - x0) / 2 - r, hy = (y1 - y0) / 2 - r;
  return (x, y) => {
    const qx = Math.abs(x - cx) - hx, qy = Math.abs(y - cy) - hy;
    return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
  };
}
const union = (...fs) => (x, y) => Math.min(...fs.map((f) => f(x, y)));
const subtract = (a, b) => (x, y) => Math.max(a(x, y), -b(x, y));

/** The mark inside a box (bx0..bx1, by0..by1); `hollow` lists node indexes drawn as rings. */
function mark(b, scale, hollow = []) {
  const X = (u) => b[0] + u * (b[2] - b[0]);
  const Y = (v) => b[1] + v * (b[3] - b[1]);
  const S = (s) => s * (b[2] - b[0]);
  const left = [X(0.18), Y(0.5)];
  const rights = [[X(0.82), Y(0.18)], [X(0.82), Y(0.5)], [X(0.82), Y(0.82)]];
  const lw = S(0.075 * scale);
  const rl = S(0.15 * scale), rr = S(0.115 * scale);
  const nodes = [[...left, rl], ...rights.map((p) => [...p, rr])];
  const shapes = rights.map(([x, y]) => segment(left[0], left[1], x, y, lw));
  // Lines stop at the node edges so hollow nodes stay hollow.
  let lines = union(...shapes);
  for (const [x, y, r] of nodes) lines = subtract(lines, circle(x, y, r));
  const parts = nodes.map(([x, y, r], i) => (hollow.includes(i) ? ring(x, y, r - lw / 2, lw) : circle(x, y, r)));
  return union(lines, ...parts);
}

/** Renders with supersampling; `paint(x, y)` → [r,g,b,a] (0..255) or null for transparent. */
function render(size, layers) {
  const px = new Uint8Array(size * size * 4);
  const N = 4;
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      let r = 0, g = 0, bl = 0, a = 0;
      for (let sy = 0; sy < N; sy++) {
        for (let sx = 0; sx < N; sx++) {
          const x = (i + (sx + 0.5) / N) / size;
          const y = (j + (sy + 0.5) / N) / size;
          // Composite layers back to front (premultiplied).
          let cr = 0, cg = 0, cb = 0, ca = 0;
          for (const { shape, color } of layers) {
            if (shape(x, y) > 0) continue;
            const [lr, lg, lb, la] = color(x, y);
            const al = la / 255;
            cr = lr * al + cr * (1 - al);
            cg = lg * al + cg * (1 - al);
            cb = lb * al + cb * (1 - al);
            ca = al + ca * (1 - al);
          }
          r += cr; g += cg; bl += cb; a += ca;
        }
      }
      const k = (j * size + i) * 4;
      const n = N * N;
      const alpha = a / n;
      px[k + 3] = Math.round(alpha * 255);
      if (alpha > 0) {
        px[k] = Math.round(r / n / alpha);
        px[k + 1] = Math.round(g / n / alpha);
        px[k + 2] = Math.round(bl / n / alpha);
      }
    }
  }
  return px;
}

const hex = (h, a = 255) => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16), a];
const lerp = (c1, c2, t) => c1.map((v, i) => Math.round(v + (c2[i] - v) * t));

function appIcon(size) {
  const from = hex('#4338ca'), to = hex('#0ea5e9');
  const bg = roundRect(0.06, 0.06, 0.94, 0.94, 0.2);
  const glyph = mark([0.22, 0.24, 0.78, 0.76], 1);
  return render(size, [
    { shape: roundRect(0.06, 0.07, 0.94, 0.955, 0.2), color: () => [0, 0, 0, 40] }, // soft shadow
    { shape: bg, color: (x, y) => lerp(from, to, Math.min(1, Math.max(0, (x + y) / 2))) },
    { shape: glyph, color: () => hex('#ffffff') },
  ]);
}

const STATES = {
  ready: { color: '#16a34a', hollow: [] },
  degraded: { color: '#d97706', hollow: [3] },
  down: { color: '#dc2626', hollow: [1, 2, 3] },
  login: { color: '#2563eb', hollow: [0] },
  credits: { color: '#9333ea', hollow: [1] },
  paused: { color: '#6b7280', hollow: [0, 1, 2, 3] },
};

/** Colored tray icon (Windows/Linux): the mark in the state's color with a thin light halo. */
function trayIcon(size, state) {
  const { color, hollow } = STATES[state];
  const glyph = mark([0.04, 0.06, 0.96, 0.94], 1.25, hollow);
  const halo = (x, y) => glyph(x, y) - 1.2 / size;
  return render(size, [
    { shape: halo, color: () => [255, 255, 255, 170] },
    { shape: glyph, color: () => hex(color) },
  ]);
}

/** macOS template image: black + alpha only; the system tints it. States differ by shape. */
function trayTemplate(size, state) {
  const glyph = mark([0.04, 0.06, 0.96, 0.94], 1.25, STATES[state].hollow);
  return render(size, [{ shape: glyph, color: () => [0, 0, 0, 255] }]);
}

// ---------- ICO / ICNS ----------
function encodeIco(images) {
  const header = Buffer.alloc(6);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2);
  header.writeUInt16LE(images.length, 4);
  const entries = [];
  let offset = 6 + 16 * images.length;
  for (const { size, png } of images) {
    const e = Buffer.alloc(16);
    e[0] = size >= 256 ? 0 : size;
    e[1] = size >= 256 ? 0 : size;
    e.writeUInt16LE(1, 4); // planes
    e.writeUInt16LE(32, 6); // bpp
    e.writeUInt32LE(png.length, 8);
    e.writeUInt32LE(offset, 12);
    offset += png.length;
    entries.push(e);
  }
  return Buffer.concat([header, ...entries, ...images.map((i) => i.png)]);
}
function encodeIcns(images) {
  const parts = images.map(({ type, png }) => {
    const h = Buffer.alloc(8);
    h.write(type, 0, 'ascii');
    h.writeUInt32BE(png.length + 8, 4);
    return Buffer.concat([h, png]);
  });
  const body = Buffer.concat(parts);
  const h = Buffer.alloc(8);
  h.write('icns', 0, 'ascii');
  h.writeUInt32BE(body.length + 8, 4);
  return Buffer.concat([h, body]);
}

// ---------- write ----------
const write = (rel, data) => {
  const p = join(out, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, data);
  return p;
};
const appPng = (s) => encodePng(s, s, appIcon(s));

const app = Object.fromEntries([16, 32, 48, 64, 128, 256, 512, 1024].map((s) => [s, appPng(s)]));
write('icon.png', app[512]);
write('icon-256.png', app[256]);
write('icon.ico', encodeIco([16, 32, 48, 64, 128, 256].map((size) => ({ size, png: app[size] }))));
write(
  'icon.icns',
  encodeIcns([
    { type: 'icp4', png: app[16] },
    { type: 'icp5', png: app[32] },
    { type: 'icp6', png: app[64] },
    { type: 'ic07', png: app[128] },
    { type: 'ic08', png: app[256] },
    { type: 'ic09', png: app[512] },
    { type: 'ic10', png: app[1024] },
  ]),
);
for (const s of [16, 32, 48, 64, 128, 256, 512]) write(join('icons', `${s}x${s}.png`), app[s]);
for (const state of Object.keys(STATES)) {
  write(join('tray', `tray-${state}.png`), encodePng(16, 16, trayIcon(16, state)));
  write(join('tray', `tray-${state}@2x.png`), encodePng(32, 32, trayIcon(32, state)));
  write(join('tray', `tray-${state}Template.png`), encodePng(16, 16, trayTemplate(16, state)));
  write(join('tray', `tray-${state}Template@2x.png`), encodePng(32, 32, trayTemplate(32, state)));
}
// The dashboard's favicon: Vite copies src-renderer/public/ into dist/renderer/, served at
// /ui/favicon.ico and /favicon.ico (core/admin/static.ts). Small sizes only (a tab, a bookmark).
const favicon = join(root, 'src-renderer', 'public', 'favicon.ico');
mkdirSync(dirname(favicon), { recursive: true });
writeFileSync(favicon, encodeIco([16, 32, 48].map((size) => ({ size, png: app[size] }))));
console.log(`icons written to ${out} and ${favicon}`);
