// A piece map on a <canvas>: one square cell per piece, row by row, written into one ImageData (no path
// per piece), so 100,000 pieces draw in milliseconds. Colours match the legend in style.css.
export const COLOURS = {
  missing: [208, 215, 222],
  held: [45, 164, 78],
  cached: [9, 105, 218],
  corrupt: [207, 34, 46],
};

/** Cell size and columns for `pieces` cells in `width` pixels, at most `maxHeight` tall where possible. */
export function layout(pieces, width, maxHeight) {
  let cell = Math.floor(Math.sqrt((width * maxHeight) / Math.max(1, pieces)));
  cell = Math.max(1, Math.min(16, cell));
  const columns = Math.max(1, Math.min(pieces, Math.floor(width / cell)));
  const rows = Math.max(1, Math.ceil(pieces / columns));
  return { cell, columns, rows };
}

/** Held bits from the wire-order bitfield in hex (piece 0 is the high bit of the first byte). */
export function heldBits(hex, pieces) {
  const held = new Uint8Array(pieces);
  for (let i = 0; i < pieces; i++) {
    const byte = Number.parseInt(hex.substr((i >> 3) * 2, 2), 16);
    held[i] = (byte >> (7 - (i & 7))) & 1;
  }
  return held;
}

/** Draws `map` (the dashboard API's piece map) on `canvas`; returns the layout (tests and clicks use it). */
export function drawPieceMap(canvas, map, width = 960, maxHeight = 320) {
  const { cell, columns, rows } = layout(map.pieces, width, maxHeight);
  canvas.width = columns * cell;
  canvas.height = rows * cell;
  const state = heldBits(map.bitmap, map.pieces); // 0 missing, 1 held, 2 cached, 3 corrupt
  for (const i of map.cached) state[i] = 2;
  for (const i of map.corrupt) state[i] = 3;
  const palette = [COLOURS.missing, COLOURS.held, COLOURS.cached, COLOURS.corrupt];
  const context = canvas.getContext('2d');
  const image = context.createImageData(canvas.width, canvas.height);
  const pixels = image.data;
  // A gap of one pixel between cells once they are big enough to show it.
  const fill = cell >= 4 ? cell - 1 : cell;
  for (let i = 0; i < map.pieces; i++) {
    const [r, g, b] = palette[state[i]];
    const x0 = (i % columns) * cell;
    const y0 = Math.floor(i / columns) * cell;
    for (let y = y0; y < y0 + fill; y++) {
      let p = (y * canvas.width + x0) * 4;
      for (let x = 0; x < fill; x++, p += 4) {
        pixels[p] = r;
        pixels[p + 1] = g;
        pixels[p + 2] = b;
        pixels[p + 3] = 255;
      }
    }
  }
  context.putImageData(image, 0, 0);
  const count = (s) => state.reduce((n, v) => n + (v === s ? 1 : 0), 0);
  const counts = { held: count(1) + count(2), cached: count(2), corrupt: count(3), missing: count(0) };
  canvas.dataset.pieces = String(map.pieces);
  canvas.dataset.held = String(counts.held);
  canvas.dataset.cell = String(cell);
  canvas.dataset.columns = String(columns);
  canvas.setAttribute(
    'aria-label',
    `Piece map: ${counts.held} of ${map.pieces} pieces held (${counts.cached} cached), ${counts.corrupt} corrupt, ${counts.missing} missing`,
  );
  return { cell, columns, rows, counts };
}

/** The piece under a click at (x, y) in CSS pixels, or -1. */
export function pieceAt(canvas, x, y, pieces) {
  const scale = canvas.width / canvas.getBoundingClientRect().width;
  const cell = Number(canvas.dataset.cell);
  const columns = Number(canvas.dataset.columns);
  const column = Math.floor((x * scale) / cell);
  const row = Math.floor((y * scale) / cell);
  const index = row * columns + column;
  return column < columns && index < pieces ? index : -1;
}

/** Heat map colour of `copies` out of `max`: grey for none, then light to dark blue. */
export function heatColour(copies, max) {
  if (copies <= 0) return COLOURS.missing;
  const t = max <= 1 ? 1 : (copies - 1) / (max - 1);
  return [Math.round(198 - 190 * t), Math.round(219 - 171 * t), Math.round(239 - 132 * t)];
}

/** The swarm's copies of each piece (a tracker's pieceCopies) as a heat map, in the piece map's layout. */
export function drawHeatMap(canvas, copies, width = 960, maxHeight = 320) {
  const pieces = copies.length;
  const { cell, columns, rows } = layout(pieces, width, maxHeight);
  canvas.width = columns * cell;
  canvas.height = rows * cell;
  let max = 0;
  for (const n of copies) max = Math.max(max, n);
  const context = canvas.getContext('2d');
  const image = context.createImageData(canvas.width, canvas.height);
  const pixels = image.data;
  const fill = cell >= 4 ? cell - 1 : cell;
  for (let i = 0; i < pieces; i++) {
    const [r, g, b] = heatColour(copies[i], max);
    const x0 = (i % columns) * cell;
    const y0 = Math.floor(i / columns) * cell;
    for (let y = y0; y < y0 + fill; y++) {
      let p = (y * canvas.width + x0) * 4;
      for (let x = 0; x < fill; x++, p += 4) {
        pixels[p] = r;
        pixels[p + 1] = g;
        pixels[p + 2] = b;
        pixels[p + 3] = 255;
      }
    }
  }
  context.putImageData(image, 0, 0);
  const none = copies.reduce((n, c) => n + (c <= 0 ? 1 : 0), 0);
  canvas.dataset.max = String(max);
  canvas.dataset.none = String(none);
  canvas.dataset.cell = String(cell);
  canvas.dataset.columns = String(columns);
  canvas.setAttribute(
    'aria-label',
    `Swarm copies per piece: at most ${max}, ${none} of ${pieces} pieces with no copy in the swarm`,
  );
  return { cell, columns, rows, max, none };
}
