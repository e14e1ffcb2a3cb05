// Numbers and colours, the same everywhere on the page: 4 significant digits with the full
// value on hover; blue for a positive value, orange for a negative one.

export const POS = "#2166ac";
export const NEG = "#d95f02";
export const ACCENT = "#8e2c9a";

/** A number to `digits` significant digits, as chainrule's explanations write it. */
export function num(value, digits = 4) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "string") return value;
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (value === 0) return "0";
  const size = Math.abs(value);
  if (size >= 1e6 || size < 1e-4) {
    const [mantissa, exponent] = value.toExponential(digits - 1).split("e");
    return `${trimZeros(mantissa)}e${exponent.replace("+", "")}`;
  }
  return trimZeros(value.toPrecision(digits));
}

function trimZeros(text) {
  return text.includes(".") && !text.includes("e") ? text.replace(/\.?0+$/, "") : text;
}

/** The full value, for a hover title: every digit a float64 holds. */
export function full(value) {
  return typeof value === "number" ? String(value) : String(value ?? "");
}

export function signClass(value) {
  if (typeof value !== "number" || value === 0 || Number.isNaN(value)) return "";
  return value > 0 ? "pos-t" : "neg-t";
}

/** Sign colour mixed toward white by how small |value| is against `scale`. */
export function signColor(value, scale, floor = 0.15) {
  const base = value >= 0 ? [0x21, 0x66, 0xac] : [0xd9, 0x5f, 0x02];
  const t = scale > 0 ? Math.min(1, Math.abs(value) / scale) : 0;
  const mix = floor + (1 - floor) * t;
  const [r, g, b] = base.map((c) => Math.round(255 + (c - 255) * mix));
  return `rgb(${r},${g},${b})`;
}

/** A span showing a number to 4 digits, coloured by sign, the full value on hover. */
export function numSpan(value, digits = 4) {
  const span = el("span", { class: `num ${signClass(value)}`.trim(), title: full(value) });
  span.textContent = num(value, digits);
  return span;
}

/** Create an element with attributes and children (strings become text). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A value as a list of rows: a scalar is [[x]], a vector one row. */
export function rows(value) {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) return [[value]];
  if (value.length === 0) return [[]];
  return Array.isArray(value[0]) ? value : [value];
}

export function shapeText(shape) {
  if (!shape) return "";
  return `(${shape.join(", ")}${shape.length === 1 ? "," : ""})`;
}

/**
 * A matrix as a table, every entry to 4 digits with its full value on hover. Large
 * matrices show their first rows and columns and say how many are left out.
 */
export function matrix(value, { maxRows = 6, maxCols = 6, label = "" } = {}) {
  const data = rows(value);
  const table = el("table", { class: "mat", "aria-label": label || null });
  const nRows = data.length;
  const nCols = nRows ? data[0].length : 0;
  const shownRows = nRows > maxRows ? maxRows - 1 : nRows;
  const shownCols = nCols > maxCols ? maxCols - 1 : nCols;
  for (let i = 0; i < shownRows; i++) {
    const tr = el("tr");
    for (let j = 0; j < shownCols; j++) tr.append(el("td", {}, numSpan(data[i][j])));
    if (shownCols < nCols) tr.append(el("td", { class: "more", title: `${nCols - shownCols} more columns` }, "…"));
    table.append(tr);
  }
  if (shownRows < nRows) {
    const tr = el("tr");
    tr.append(el("td", { class: "more", colspan: shownCols + (shownCols < nCols ? 1 : 0),
      title: `${nRows - shownRows} more rows` }, `⋮ ${nRows - shownRows} more rows`));
    table.append(tr);
  }
  return table;
}

/** Largest |entry| of a nested array (0 when empty). */
export function maxAbs(value) {
  let best = 0;
  for (const row of rows(value)) for (const x of row) if (Number.isFinite(x)) best = Math.max(best, Math.abs(x));
  return best;
}
