// A line chart of rates on a <canvas>: two series over the last minutes, drawn in one pass per series.
// A few dozen lines instead of a charting library: the overview draws at most 300 points every 2 s.

export function formatBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}

/** points: [{at, sentPerSecond, pulledPerSecond}]; series: [{key, colour}]. */
export function drawRateChart(canvas, points, series, windowMs = 10 * 60 * 1000) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 800;
  const height = canvas.clientHeight || 200;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const context = canvas.getContext('2d');
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, height);
  const left = 70;
  const bottom = height - 20;
  const end = points.length ? points[points.length - 1].at : Date.now();
  const start = end - windowMs;
  let max = 1;
  for (const p of points) for (const s of series) max = Math.max(max, p[s.key]);
  // What is drawn, for tests and scripts reading the page: how many points, the highest rate (bytes/s).
  canvas.dataset.points = String(points.length);
  canvas.dataset.peak = String(Math.round(points.length ? max : 0));
  context.strokeStyle = '#d0d7de';
  context.fillStyle = '#57606a';
  context.font = '11px system-ui, sans-serif';
  context.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = bottom - ((bottom - 10) * i) / 4;
    context.beginPath();
    context.moveTo(left, y);
    context.lineTo(width - 5, y);
    context.stroke();
    context.fillText(`${formatBytes((max * i) / 4)}/s`, 2, y + 4);
  }
  context.fillText(`${Math.round(windowMs / 60000)} min ago`, left, height - 4);
  context.fillText('now', width - 30, height - 4);
  const x = (at) => left + ((at - start) / windowMs) * (width - 5 - left);
  const y = (v) => bottom - ((bottom - 10) * v) / max;
  for (const s of series) {
    context.strokeStyle = s.colour;
    context.lineWidth = 2;
    context.beginPath();
    points.forEach((p, i) => {
      if (i === 0) context.moveTo(x(p.at), y(p[s.key]));
      else context.lineTo(x(p.at), y(p[s.key]));
    });
    context.stroke();
  }
}
