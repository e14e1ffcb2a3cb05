// The training strip's charts: the loss curve, the decision boundary or fitted surface of
// 2-D data, and the gradient size of each layer. Plain SVG and canvas, drawn from the numbers
// the server sent.

import { POS, full, num, signColor, svg } from "./format.js";

function frame(root) {
  const box = root.getBoundingClientRect();
  const width = Math.max(120, box.width || 300);
  const height = Math.max(80, box.height || 140);
  root.setAttribute("viewBox", `0 0 ${width} ${height}`);
  root.replaceChildren();
  return { width, height };
}

/**
 * The loss per epoch, training and validation. A logarithmic axis once the loss spans more
 * than a factor of 20, so the slow end of training still shows movement.
 */
export function drawCurve(root, { epochs = [], train = [], val = [] } = {}) {
  const { width, height } = frame(root);
  const left = 60;
  const bottom = height - 20;
  const top = 8;
  const right = width - 8;
  const all = [...train, ...val].filter((v) => Number.isFinite(v) && v > 0);
  if (epochs.length === 0 || all.length === 0) {
    root.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle" }, "train to see the loss fall"));
    return;
  }
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  const log = hi / lo > 20;
  const f = log ? Math.log10 : (v) => v;
  if (!log) lo = 0;
  if (hi === lo) hi = lo + 1;
  const first = epochs[0];
  const last = Math.max(epochs[epochs.length - 1], first + 1);
  const x = (e) => left + ((right - left) * (e - first)) / (last - first);
  const y = (v) => bottom - ((bottom - top) * (f(v) - f(lo))) / (f(hi) - f(lo));
  root.append(svg("line", { x1: left, y1: bottom, x2: right, y2: bottom, stroke: "#9aa7b1" }));
  root.append(svg("line", { x1: left, y1: top, x2: left, y2: bottom, stroke: "#9aa7b1" }));
  root.append(svg("text", { x: left - 4, y: top + 10, "text-anchor": "end" }, num(hi, 3)));
  root.append(svg("text", { x: left - 4, y: bottom, "text-anchor": "end" }, num(log ? lo : 0, 3)));
  root.append(svg("text", { x: left, y: height - 4 }, `epoch ${first}`));
  root.append(svg("text", { x: right, y: height - 4, "text-anchor": "end" }, String(last)));
  if (log) root.append(svg("text", { x: right, y: top + 10, "text-anchor": "end" }, "log scale"));
  const line = (values, attrs) => {
    const points = [];
    values.forEach((v, k) => { if (Number.isFinite(v) && (!log || v > 0)) points.push(`${x(epochs[k]).toFixed(1)},${y(v).toFixed(1)}`); });
    if (points.length) root.append(svg("polyline", { points: points.join(" "), fill: "none", ...attrs }));
  };
  line(val, { stroke: "#6c7a86", "stroke-width": 2, "stroke-dasharray": "5 4" });
  line(train, { stroke: "#2a6f97", "stroke-width": 2.5 });
}

const CLASS_COLORS = [[0xd9, 0x5f, 0x02], [0x21, 0x66, 0xac], [0x1b, 0x9e, 0x77], [0x75, 0x70, 0xb3],
  [0xe7, 0x29, 0x8a], [0x66, 0xa6, 0x1e], [0xe6, 0xab, 0x02], [0xa6, 0x76, 0x1d], [0x66, 0x66, 0x66],
  [0x1f, 0x78, 0xb4]];

/**
 * 2-D data over the model's prediction on a grid (docs/studio.md, "Grid").
 *
 * grid: {x_range, y_range, n, kind: "class" | "value", values, confidence}, row 0 at the
 * bottom; points: {x: [[x1, x2], ...], y: [...]}: class indices or target values.
 */
export function drawField(canvas, grid, points) {
  const ctx = canvas.getContext("2d");
  const size = Math.round(Math.min(canvas.clientWidth || 200, canvas.clientHeight || 200) * (window.devicePixelRatio || 1));
  if (size > 0 && canvas.width !== size) { canvas.width = size; canvas.height = size; }
  const n = canvas.width;
  ctx.clearRect(0, 0, n, n);
  if (!grid) return;
  const values = grid.values;
  const ny = values.length;
  const nx = ny ? values[0].length : 0;
  const isClass = grid.kind === "class";
  const scale = isClass ? 1 : Math.max(1e-12, ...values.flat().filter(Number.isFinite).map(Math.abs),
    ...(points?.y ?? []).filter(Number.isFinite).map(Math.abs));
  const cellW = n / nx;
  const cellH = n / ny;
  for (let r = 0; r < ny; r++) {
    for (let c = 0; c < nx; c++) {
      const value = values[r][c];
      ctx.fillStyle = isClass
        ? classColor(value, 0.12 + 0.5 * confidenceWeight(grid.confidence?.[r]?.[c]))
        : signColor(value ?? 0, scale, 0.04);
      ctx.fillRect(Math.floor(c * cellW), Math.floor(n - (r + 1) * cellH), Math.ceil(cellW) + 1, Math.ceil(cellH) + 1);
    }
  }
  if (!points) return;
  const [x0, x1] = grid.x_range;
  const [y0, y1] = grid.y_range;
  const px = (v) => ((v - x0) / (x1 - x0)) * n;
  const py = (v) => n - ((v - y0) / (y1 - y0)) * n;
  const radius = Math.max(2.5, n / 80);
  points.x.forEach(([a, b], k) => {
    const target = points.y[k];
    ctx.beginPath();
    ctx.arc(px(a), py(b), radius, 0, 2 * Math.PI);
    ctx.fillStyle = isClass ? classColor(target, 1) : signColor(target, scale, 0.35);
    ctx.fill();
    ctx.lineWidth = Math.max(1, n / 300);
    ctx.strokeStyle = "#ffffff";
    ctx.stroke();
  });
}

/** How sure the prediction is, 0 for a coin toss, 1 for certain (any number of classes). */
function confidenceWeight(p) {
  if (!Number.isFinite(p)) return 0.5;
  return Math.max(0, Math.min(1, (p - 0.5) * 2));
}

function classColor(k, strength) {
  const rgb = CLASS_COLORS[(Number.isFinite(k) ? k : 0) % CLASS_COLORS.length];
  return `rgb(${rgb.map((c) => Math.round(255 + (c - 255) * strength)).join(",")})`;
}

/**
 * The gradient norm of each layer's weights on a log axis from 1e-8 to 10: bars that
 * shrink toward the input layer are gradients vanishing on their way back.
 *
 * layers: [{name, value}], input layer first.
 */
export function drawGradSizes(root, layers = []) {
  const { width, height } = frame(root);
  if (!layers.length) {
    root.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle" }, "take a step"));
    return;
  }
  const lo = -8;
  const hi = 1;
  const left = 46;
  const right = width - 64;
  const top = 6;
  const rowH = Math.min(28, (height - top - 18) / layers.length);
  const x = (v) => left + ((right - left) * (Math.min(hi, Math.max(lo, Math.log10(Math.max(v, 1e-300)))) - lo)) / (hi - lo);
  for (const tick of [-8, -6, -4, -2, 0]) {
    root.append(svg("line", { x1: x(10 ** tick), y1: top, x2: x(10 ** tick), y2: top + rowH * layers.length, stroke: "#e3e9ee" }));
    root.append(svg("text", { x: x(10 ** tick), y: top + rowH * layers.length + 14, "text-anchor": "middle" }, `1e${tick}`));
  }
  layers.forEach((layer, k) => {
    const y = top + k * rowH;
    const value = layer.value;
    const bar = svg("rect", { x: left, y: y + 3, width: Math.max(1, x(value) - left), height: rowH - 7, rx: 2,
      fill: POS, opacity: 0.85 });
    bar.append(svg("title", {}, `${layer.name}: ${full(value)}`));
    root.append(bar);
    root.append(svg("text", { x: left - 5, y: y + rowH / 2 + 4, "text-anchor": "end" }, layer.name));
    root.append(svg("text", { x: x(value) + 4, y: y + rowH / 2 + 4 }, num(value, 3)));
  });
}
