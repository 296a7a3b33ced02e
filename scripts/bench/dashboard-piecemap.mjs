// The dashboard's piece map of PIECES pieces (default 100,000) drawn in headless chromium: edgepeer's
// drawPieceMap (assets/dashboard/piecemap.js: decode the hex bitfield, one ImageData, one putImageData)
// against the yardstick a straightforward canvas page would use, one fillRect per piece with its colour, on
// the same layout and data, alternating, in the same page. Prints the medians (ms) as one JSON line.
// usage: node scripts/bench/dashboard-piecemap.mjs   env: PIECES=100000, RUNS=11
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PIECES = Number(process.env.PIECES ?? 100_000);
const RUNS = Number(process.env.RUNS ?? 11);

// The page and the module, from loopback: ES modules do not load from file:// URLs.
const server = createServer(async (req, res) => {
  if (req.url === '/piecemap.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    res.end(await readFile(join(ROOT, 'assets/dashboard/piecemap.js')));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><canvas id="map"></canvas>');
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${server.address().port}/`;
const browser = await puppeteer.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless=new',
    '--no-sandbox',
    '--no-first-run',
    '--disable-component-update',
    '--disable-background-networking',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    '--disable-dev-shm-usage',
  ],
});
try {
  const page = await browser.newPage();
  await page.goto(url);
  const result = await page.evaluate(
    async (pieces, runs) => {
      const { drawPieceMap, layout, heldBits, COLOURS } = await import('/piecemap.js');
      // A partial object: 3 of 4 pieces held, 1 % cached, 0.1 % corrupt.
      const bytes = new Uint8Array(Math.ceil(pieces / 8));
      for (let i = 0; i < bytes.length; i++) bytes[i] = (Math.random() * 256) | 0 | 0xa5;
      const bitmap = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
      const cached = [];
      const corrupt = [];
      for (let i = 0; i < pieces; i += 100) cached.push(i);
      for (let i = 7; i < pieces; i += 1000) corrupt.push(i);
      const map = { pieces, bitmap, cached, corrupt };
      const canvas = document.getElementById('map');
      const flush = () => canvas.getContext('2d').getImageData(0, 0, 1, 1);
      const edgepeer = () => {
        drawPieceMap(canvas, map);
        flush();
      };
      // The yardstick: the same picture, one fillRect per piece.
      const fillRects = () => {
        const { cell, columns, rows } = layout(pieces, 960, 320);
        canvas.width = columns * cell;
        canvas.height = rows * cell;
        const state = heldBits(bitmap, pieces);
        for (const i of cached) state[i] = 2;
        for (const i of corrupt) state[i] = 3;
        const styles = [COLOURS.missing, COLOURS.held, COLOURS.cached, COLOURS.corrupt].map((c) => `rgb(${c})`);
        const context = canvas.getContext('2d');
        const fill = cell >= 4 ? cell - 1 : cell;
        for (let i = 0; i < pieces; i++) {
          context.fillStyle = styles[state[i]];
          context.fillRect((i % columns) * cell, Math.floor(i / columns) * cell, fill, fill);
        }
        flush();
      };
      const time = (f) => {
        const start = performance.now();
        f();
        return performance.now() - start;
      };
      edgepeer();
      fillRects();
      const ours = [];
      const theirs = [];
      for (let r = 0; r < runs; r++) {
        ours.push(time(edgepeer));
        theirs.push(time(fillRects));
      }
      const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      return {
        pieces,
        runs,
        drawPieceMapMs: median(ours),
        fillRectPerPieceMs: median(theirs),
        ...layout(pieces, 960, 320),
      };
    },
    PIECES,
    RUNS,
  );
  console.log(
    JSON.stringify({ ...result, ratio: Number((result.fillRectPerPieceMs / result.drawPieceMapMs).toFixed(2)) }),
  );
} finally {
  await browser.close();
  server.close();
}
