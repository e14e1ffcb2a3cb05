// The network as a diagram: units with their values for the chosen sample, edges coloured by
// the sign of their weight and as wide as its size, the stage being explained in the accent
// colour. The diagram is redrawn from the model's numbers; it computes nothing itself.

import { ACCENT, full, maxAbs, num, rows, signColor, svg } from "./format.js";

const MAX_UNITS = 9; // a wider layer shows its first units and says how many more it has
const LABEL_CHARS = 9; // longer feature names are cut, their whole name shown on hover

// The network last drawn: a tooltip reads its value from here, so a weight hovered while
// training shows the newest value, not the one of the frame the pointer entered on.
let current = null;
const weightNow = (name) => current?.weights.find((w) => w?.name === name)?.value;
const biasNow = (name) => current?.biases.find((b) => b?.name === name)?.value;
const unitsNow = (k) => current?.layers[k]?.values;

/**
 * Draw `net` into the <svg> `root`.
 *
 * net: {layers: [{name, size, labels?, values?}], weights: [{name, value}],
 *       biases: [{name, value, kind} | null], loss: {name, value} | null}
 * layers[0] is the input; weights[k] and biases[k] lead into layers[k + 1].
 * highlight: {layer, part: "units" | "weights" | "bias" | "loss"} or null.
 * picked: {param, i, j} or null, an edge the learner clicked.
 */
export function drawNetwork(root, net, { highlight = null, picked = null, onPick = null, tip = null } = {}) {
  current = net;
  const box = root.getBoundingClientRect();
  const width = Math.max(240, box.width || 600);
  const height = Math.max(180, box.height || 360);
  root.setAttribute("viewBox", `0 0 ${width} ${height}`);
  root.replaceChildren();

  const nLayers = net.layers.length;
  const lossRoom = net.loss ? 90 : 20;
  const labels = net.layers[0].labels ?? [];
  const longest = Math.max(0, ...labels.slice(0, MAX_UNITS).map((l) => Math.min(LABEL_CHARS, l.length)));
  const left = 40 + longest * 9.5;
  const right = width - lossRoom - 40;
  const top = 58;
  const bottom = height - 26;
  const xOf = (k) => (nLayers === 1 ? left : left + ((right - left) * k) / (nLayers - 1));
  const shown = net.layers.map((layer) => Math.min(layer.size, MAX_UNITS));
  const maxShown = Math.max(...shown);
  const gap = (bottom - top) / Math.max(maxShown, 1);
  const radius = Math.max(9, Math.min(24, gap * 0.36));
  const yOf = (k, i) => {
    const count = shown[k];
    const mid = (top + bottom) / 2;
    return mid + (i - (count - 1) / 2) * gap;
  };

  const edges = svg("g", { class: "edges" });
  const units = svg("g", { class: "units" });
  const marks = svg("g", { class: "marks" });
  root.append(marks, edges, units);

  // edges, widest for the largest |w| of the whole network
  const scale = Math.max(1e-12, ...net.weights.map((w) => maxAbs(w?.value)));
  net.weights.forEach((weight, k) => {
    if (!weight) return;
    const matrix = rows(weight.value);
    const hot = highlight && highlight.layer === k + 1 && highlight.part === "weights";
    if (hot) {
      marks.append(svg("rect", { class: "hl-box", x: xOf(k) + radius + 4, y: top - 30,
        width: xOf(k + 1) - xOf(k) - 2 * radius - 8, height: bottom - top + 34, rx: 10 }));
    }
    for (let i = 0; i < shown[k]; i++) {
      for (let j = 0; j < shown[k + 1]; j++) {
        const w = matrix[i]?.[j];
        if (w === undefined) continue;
        const isPicked = picked && picked.param === weight.name && picked.i === i && picked.j === j;
        const line = svg("line", {
          class: `edge${isPicked ? " picked" : ""}`,
          x1: xOf(k) + radius, y1: yOf(k, i), x2: xOf(k + 1) - radius, y2: yOf(k + 1, j),
          stroke: isPicked ? ACCENT : signColor(w, scale, 0.25),
          "stroke-width": (0.6 + 6 * Math.abs(w) / scale).toFixed(2),
          "stroke-linecap": "round",
          "data-param": weight.name, "data-i": i, "data-j": j,
        });
        const read = () => {
          const value = rows(weightNow(weight.name))[i]?.[j];
          return `${weight.name}[${i},${j}] = ${full(value)}`;
        };
        if (tip) tip.attach(line, read);
        if (onPick) line.addEventListener("click", () => onPick({ param: weight.name, i, j }));
        edges.append(line);
      }
    }
    const label = svg("text", { class: "layer-name", x: (xOf(k) + xOf(k + 1)) / 2, y: top - 34,
      "text-anchor": "middle", fill: hot ? ACCENT : null }, weight.name);
    edges.append(label);
  });

  // units, filled by their value for the chosen sample
  net.layers.forEach((layer, k) => {
    const values = layer.values ?? null;
    const vScale = Math.max(1e-12, maxAbs(values));
    const hot = highlight && highlight.layer === k && highlight.part === "units";
    if (hot) {
      marks.append(svg("rect", { class: "hl-box", x: xOf(k) - radius - 12, y: top - 30,
        width: 2 * radius + 24, height: bottom - top + 34, rx: 10 }));
    }
    units.append(svg("text", { class: "layer-name", x: xOf(k), y: top - 34, "text-anchor": "middle",
      fill: hot ? ACCENT : null }, layer.name));
    for (let i = 0; i < shown[k]; i++) {
      const value = values ? values[i] : undefined;
      const fill = value === undefined ? "#ffffff" : signColor(value, vScale, 0.08);
      const circle = svg("circle", { cx: xOf(k), cy: yOf(k, i), r: radius, fill,
        stroke: hot ? ACCENT : "#5b6770", "stroke-width": hot ? 3 : 1.2, class: "unit" });
      if (tip) {
        tip.attach(circle, () => {
          const name = layer.labels?.[i] ? `${layer.labels[i]} (${layer.name}[${i}])` : `${layer.name}[${i}]`;
          const live = unitsNow(k)?.[i];
          return live === undefined ? name : `${name} = ${full(live)}`;
        });
      }
      units.append(circle);
      const text = value === undefined ? "" : num(value, 3);
      // as large as fits in the circle; the full value is one hover away
      const size = Math.min(15, (2 * radius - 4) / (0.62 * Math.max(3, text.length)));
      if (text && size >= 10) {
        const dark = Math.abs(value) / vScale > 0.55;
        units.append(svg("text", { class: "value", x: xOf(k), y: yOf(k, i) + size * 0.36, "text-anchor": "middle",
          fill: dark ? "#ffffff" : "#1d232b", "font-size": size.toFixed(1) }, text));
      }
      if (k === 0 && layer.labels?.[i]) {
        const label = layer.labels[i];
        units.append(svg("text", { class: "unit-label", x: xOf(k) - radius - 6, y: yOf(k, i) + 5,
          "text-anchor": "end", "font-size": 14 }, label.length > LABEL_CHARS ? `${label.slice(0, LABEL_CHARS - 1)}…` : label));
      }
    }
    if (layer.size > shown[k]) {
      units.append(svg("text", { class: "unit-label", x: xOf(k), y: bottom + 18, "text-anchor": "middle",
        "font-size": 14 }, `+${layer.size - shown[k]} more`));
    }
  });

  // biases: one small square per layer, above its units
  net.biases.forEach((bias, k) => {
    if (!bias) return;
    const x = xOf(k + 1) - radius - 26;
    const y = top - 18;
    const values = rows(bias.value)[0] ?? [];
    const hot = highlight && highlight.layer === k + 1 && highlight.part === "bias";
    const isPicked = picked && picked.param === bias.name;
    const rect = svg("rect", { x: x - 9, y: y - 9, width: 18, height: 18, rx: 3,
      fill: values.length === 1 ? signColor(values[0], Math.max(scale, Math.abs(values[0])), 0.2) : "#ffffff",
      stroke: hot || isPicked ? ACCENT : "#5b6770", "stroke-width": hot || isPicked ? 3 : 1.2,
      class: "edge", "data-param": bias.name });
    if (tip) tip.attach(rect, () => `${bias.name} (${bias.kind} bias) = ${(rows(biasNow(bias.name))[0] ?? []).map(full).join(", ")}`);
    if (onPick) rect.addEventListener("click", () => onPick({ param: bias.name, i: 0, j: 0 }));
    edges.append(rect);
    edges.append(svg("text", { class: "layer-name", x: x - 14, y: y + 5, "text-anchor": "end",
      "font-size": 14, fill: hot ? ACCENT : null }, bias.name));
  });

  // the loss, right of the output
  if (net.loss) {
    const k = nLayers - 1;
    const x = xOf(k) + radius + 52;
    const y = (top + bottom) / 2;
    const hot = highlight && highlight.part === "loss";
    for (let i = 0; i < shown[k]; i++) {
      edges.append(svg("line", { x1: xOf(k) + radius, y1: yOf(k, i), x2: x - 34, y2: y,
        stroke: hot ? ACCENT : "#9aa7b1", "stroke-width": 1.2, "stroke-dasharray": "4 3" }));
    }
    const rect = svg("rect", { x: x - 34, y: y - 22, width: 80, height: 44, rx: 8,
      fill: hot ? "#f5e6f7" : "#f6eded", stroke: hot ? ACCENT : "#5b6770", "stroke-width": hot ? 3 : 1.2 });
    if (tip) tip.attach(rect, () => `${net.loss.name} = ${full(net.loss.value)}`);
    units.append(rect);
    units.append(svg("text", { class: "layer-name", x: x + 6, y: y - 4, "text-anchor": "middle" }, net.loss.name));
    units.append(svg("text", { class: "value", x: x + 6, y: y + 15, "text-anchor": "middle" },
      net.loss.value === null || net.loss.value === undefined ? "" : num(net.loss.value)));
  }
}

/**
 * A tooltip that follows the pointer and reads its text when shown and whenever
 * `refresh()` is called (after each training update), so a hovered weight stays live.
 */
export function makeTip(node) {
  let reader = null;
  const show = (event) => {
    node.hidden = false;
    node.style.left = `${Math.min(window.innerWidth - 370, event.clientX + 14)}px`;
    node.style.top = `${event.clientY + 16}px`;
  };
  return {
    attach(target, read) {
      target.addEventListener("mouseenter", (event) => { reader = read; node.textContent = read(); show(event); });
      target.addEventListener("mousemove", show);
      target.addEventListener("mouseleave", () => { reader = null; node.hidden = true; });
    },
    refresh() { if (reader && !node.hidden) node.textContent = reader(); },
    hide() { reader = null; node.hidden = true; },
  };
}
