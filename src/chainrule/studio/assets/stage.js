// The stage panel: one training step read like a paragraph of a textbook, one frame at a
// time (each forward op, the loss, each backward stage, the update), and the view of one
// parameter. Every number and formula comes from the explanation's JSON
// (Explanation.to_dict() on the server); the panel only lays it out.

import { el, matrix, num, numSpan, shapeText } from "./format.js";

/** A formula from the server ({text, latex, mathml}) as MathML, or its text. */
export function formula(f, cls = "") {
  const span = el("span", { class: cls || null });
  if (!f) return span;
  if (typeof f === "string") {
    span.textContent = f;
  } else if (f.mathml) {
    span.innerHTML = f.mathml; // chainrule's own MathML writer, which escapes every name
    span.title = f.text ?? "";
  } else {
    span.textContent = f.text ?? "";
  }
  return span;
}

const partial = (top, bottom) => el("span", { class: "partial" }, "∂", el("i", {}, top), "/∂", el("i", {}, bottom));

function named(name, value, shape) {
  return el("div", { class: "named" }, el("span", { class: "name" }, name, shape ? ` ${shapeText(shape)}` : ""),
    typeof value === "number" ? numSpan(value) : matrix(value));
}
const op = (symbol) => el("span", { class: "op" }, symbol);

function valueOf(expl, name) { return expl.values.find((v) => v.name === name); }

/** The layer a value belongs to on the diagram (0 for the input). */
function layerOf(expl, name) {
  const value = valueOf(expl, name);
  if (!value) return null;
  if (value.kind === "input") return 0;
  return value.layer ?? null;
}

/**
 * The frames of one explained step, in reading order, each with what it lights up on
 * the diagram and how far the forward values have got.
 */
export function buildFrames(expl) {
  const frames = [];
  const loss = expl.values.find((v) => v.kind === "loss");
  const forward = expl.values.filter((v) => v.op && v.kind !== "loss");
  const opsByLayer = {};
  for (const value of forward) (opsByLayer[value.layer] ??= []).push(value);
  forward.forEach((value) => {
    const first = opsByLayer[value.layer][0] === value;
    frames.push({ phase: "forward", value: value.name,
      highlight: { layer: value.layer, part: first && value.op ? "weights" : "units" },
      reached: { layer: value.layer, value: value.name } });
  });
  if (loss) frames.push({ phase: "loss", highlight: { part: "loss" }, reached: null });
  expl.backward.forEach((stage, k) => {
    // the layer of the op being differentiated: Z2 -> h1 crosses layer 2's weights
    const outLayer = layerOf(expl, stage.out) ?? stage.layer;
    const part = stage.kind === "loss" ? "loss"
      : stage.kind === "bias" ? "bias"
        : stage.kind === "layer-weights" || stage.kind === "layer-input" ? "weights" : "units";
    frames.push({ phase: "backward", stage: k, highlight: { layer: outLayer, part }, reached: null });
  });
  frames.push({ phase: "update", highlight: null, reached: null, after: true });
  return frames;
}

const PHASES = { forward: "Forward pass", loss: "The loss", backward: "Backward pass", update: "The update" };

export function phaseTitle(frame) { return PHASES[frame.phase]; }

/** Render `frames[index]` of `expl` into `root`. `onParam(name)` opens a parameter. */
export function renderFrame(root, expl, frames, index, { onParam } = {}) {
  const frame = frames[index];
  const count = frames.filter((f) => f.phase === frame.phase);
  const position = count.indexOf(frame) + 1;
  const kicker = el("p", { class: "kicker" }, `${PHASES[frame.phase]}${count.length > 1 ? ` · ${position} of ${count.length}` : ""}`);
  const body = frame.phase === "forward" ? forwardFrame(expl, frame)
    : frame.phase === "loss" ? lossFrame(expl)
      : frame.phase === "backward" ? backwardFrame(expl, expl.backward[frame.stage], onParam)
        : updateFrame(expl, onParam);
  root.replaceChildren(kicker, ...body);
}

function forwardFrame(expl, frame) {
  const value = valueOf(expl, frame.value);
  const inputs = (value.inputs ?? []).map((name) => valueOf(expl, name)).filter(Boolean);
  const role = value.role ? value.role[0].toUpperCase() + value.role.slice(1) : `Layer ${value.layer}`;
  const out = [el("h3", {}, `${role}: ${value.name}`)];
  if (value.formula) {
    out.push(el("div", { class: "formula" }, formula(value.formula)));
  } else {
    out.push(el("div", { class: "formula" }, `${value.name} = ${value.op}(${inputs.map((v) => v.name).join(", ")})`));
  }
  out.push(el("p", { class: "shape" }, inputs.map((v) => `${v.name} ${shapeText(v.shape)}`).join(", "),
    ` → ${value.name} ${shapeText(value.shape)}`));
  const eq = el("div", { class: "eq" });
  if (inputs.length === 1) eq.append(named(inputs[0].name, inputs[0].value, null), op("→"));
  eq.append(named(value.name, value.value, null));
  out.push(eq);
  return out;
}

function lossFrame(expl) {
  const loss = expl.values.find((v) => v.kind === "loss");
  const output = expl.values.find((v) => v.kind === "output");
  const target = expl.values.find((v) => v.kind === "target");
  const out = [el("h3", {}, "How wrong the network is")];
  const form = expl.loss_form;
  if (form) {
    out.push(el("div", { class: "formula" }, formula(form.definition)));
    if (form.substituted) out.push(el("div", { class: "formula" }, formula(form.substituted)));
    if (form.note) out.push(el("p", { class: "shape" }, form.note));
  }
  const eq = el("div", { class: "eq" });
  if (output) eq.append(named(output.name, output.value, output.shape));
  if (target) eq.append(named(target.name, target.value, target.shape));
  out.push(eq);
  out.push(el("p", {}, `${loss ? loss.name : "E"} = `, el("b", {}, numSpan(expl.loss)),
    ": the number the backward pass will push down."));
  return out;
}

const COMBINE = {
  pointwise: "⊙", jacobian: "·", "layer-input": "@", loss: "·", other: "·",
};

function backwardFrame(expl, stage, onParam) {
  const lossName = expl.values.find((v) => v.kind === "loss")?.name ?? "E";
  const out = [el("h3", {}, partial(lossName, stage.wrt), " from ", partial(lossName, stage.out))];
  out.push(el("p", {}, `The local derivative of ${stage.op}, `, formula(stage.local_name), ":"));
  out.push(el("div", { class: "formula" }, formula(stage.local_name), " = ", formula(stage.formula)));
  const eq = el("div", { class: "eq" });
  const upstream = named(`upstream ∂${lossName}/∂${stage.out}`, stage.upstream, stage.shapes?.upstream);
  const local = stage.local === null || stage.local === undefined ? null : named("local", stage.local, stage.shapes?.local);
  const result = named(`∂${lossName}/∂${stage.wrt}`, stage.result, stage.shapes?.result);
  if (stage.kind === "layer-weights") {
    if (local) eq.append(local, op("@"));
    eq.append(upstream, op("="), result);
  } else if (stage.kind === "bias") {
    eq.append(op("sum of"), upstream, op("="), result);
  } else {
    eq.append(upstream);
    if (local) eq.append(op(COMBINE[stage.kind] ?? "·"), local);
    eq.append(op("="), result);
  }
  out.push(eq);
  const shapes = stage.shapes ?? {};
  out.push(el("p", { class: "shape" }, `shapes: upstream ${shapeText(shapes.upstream)}`,
    shapes.local ? `, local ${shapeText(shapes.local)}` : "", ` → ${shapeText(shapes.result)}`));
  if (stage.parameter) {
    const link = el("button", { type: "button" }, `open ${stage.parameter}`);
    link.addEventListener("click", () => onParam?.(stage.parameter));
    out.push(el("p", {}, `This is the gradient of the parameter ${stage.parameter}. `, link));
  } else if (stage.error_signal) {
    out.push(el("p", {}, `${lossName}'s gradient at ${stage.wrt} is this layer's error signal (its δ).`));
  }
  if (stage.intuition) out.push(el("p", { class: "why" }, stage.intuition));
  return out;
}

function updateFrame(expl, onParam) {
  const out = [el("h3", {}, `Gradient descent, learning rate ${num(expl.lr)}`)];
  // the update rows as the server lists them, else read off each parameter's before and after
  const rows = expl.update ?? expl.parameters.map((p) => ({ name: p.name, before: p.value, gradient: p.gradient, after: p.updated }));
  for (const entry of rows) {
    if (entry.formula) out.push(el("div", { class: "formula" }, formula(entry.formula)));
    const eq = el("div", { class: "eq" });
    const button = el("button", { type: "button", class: "pname" }, entry.name);
    button.addEventListener("click", () => onParam?.(entry.name));
    eq.append(button, named("before", entry.before, null), op(`− ${num(entry.lr ?? expl.lr)} ×`),
      named(`∂E/∂${entry.name}`, entry.gradient, null), op("="), named("after", entry.after, null));
    out.push(eq);
  }
  out.push(el("p", {}, "The loss on the same data: ", numSpan(expl.loss), " before the step, ",
    el("b", {}, numSpan(expl.loss_after)), " after."));
  return out;
}

/**
 * One parameter: its gradient, its chain (every path from the loss), the one-weight view
 * number by number and the central-difference check.
 */
export function renderParam(root, expl, name, { picked = null, onStage, onClose } = {}) {
  const param = expl.parameters.find((p) => p.name === name);
  if (!param) return;
  const close = el("button", { type: "button" }, "◀ back to the step");
  close.addEventListener("click", () => onClose?.());
  const out = [el("p", { class: "kicker" }, `Parameter · ${param.role ?? ""}`),
    el("h3", {}, `The gradient of ${name} `, el("span", { class: "shape" }, shapeText(param.shape)))];
  const grad = el("div", { "data-testid": "gradient", class: "eq" },
    named(`∂${lossNameOf(expl)}/∂${name}`, param.gradient, null));
  out.push(grad);
  const paths = param.paths?.length ? param.paths : [param.chain ?? []];
  out.push(el("p", {}, paths.length > 1
    ? `${name} is used ${paths.length} times: its gradient is the sum of ${paths.length} chains.`
    : `The chain from the loss down to ${name}:`));
  for (const path of paths) {
    const row = el("div", { class: "path" });
    path.forEach((k, n) => {
      const stage = expl.backward[k];
      const go = el("button", { type: "button", title: stage.formula?.text ?? "" }, formula(stage.local_name));
      go.addEventListener("click", () => onStage?.(k));
      if (n) row.append(" × ");
      row.append(go);
    });
    out.push(row);
  }
  const view = pickWeight(expl, name, picked);
  if (view) out.push(...weightView(expl, view));
  out.push(el("p", {}, close));
  root.replaceChildren(...out);
}

function lossNameOf(expl) { return expl.values.find((v) => v.kind === "loss")?.name ?? "E"; }

function pickWeight(expl, name, picked) {
  const views = (expl.weights ?? []).filter((w) => w.param === name);
  if (picked && picked.param === name) {
    const exact = views.find((w) => w.index[0] === picked.i && w.index[1] === picked.j);
    if (exact) return exact;
  }
  return views[0] ?? null;
}

function weightView(expl, view) {
  const out = [el("h3", {}, `One weight: ${view.weight}`)];
  out.push(el("p", {}, `${view.weight} = `, numSpan(view.value), `; its gradient is a sum over the samples of the input it multiplies times the error signal at its output:`));
  const table = el("table", { class: "kv" },
    el("tr", {}, el("th", {}, "sample"), el("th", {}, "input"), el("th", {}, "δ"), el("th", {}, "product")));
  for (const term of view.terms ?? []) {
    table.append(el("tr", {}, el("td", {}, String(term.sample)), el("td", {}, numSpan(term.input)),
      el("td", {}, numSpan(term.delta)), el("td", {}, numSpan(term.product))));
  }
  out.push(table);
  out.push(el("p", {}, "sum = ", el("b", {}, numSpan(view.gradient))));
  const check = view.check;
  if (check) {
    const good = Math.abs(check.difference) <= 1e-6 * Math.max(1, Math.abs(check.analytic));
    // the two losses differ past the 4th digit: shown to 10, or they would read the same
    out.push(el("p", {}, "Central difference with ε = ", numSpan(check.eps), ": (",
      numSpan(check.loss_plus, 10), " − ", numSpan(check.loss_minus, 10), ") / 2ε = ", numSpan(check.numeric),
      " against backpropagation's ", numSpan(check.analytic), ": ",
      el("span", { class: good ? "check-ok" : "check-bad" }, `difference ${num(check.difference, 2)}`)));
  }
  return out;
}
