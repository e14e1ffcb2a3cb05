// The set-up: the form that edits it, and the address bar that holds it, so a link opens
// the same data, network, initializer, seed, learning rate, step and stage.
// Every choice offered comes from /api/options; none is written here.

import { el } from "./format.js";

const $ = (id) => document.getElementById(id);

/** The fields of a set-up that travel in a share link, with how to read them back. */
const URL_FIELDS = {
  example: String, upload: String, target: String,
  hidden: (v) => (v === "" ? [] : v.split(/[,\s-]+/).filter(Boolean).map(Number)),
  activations: (v) => v.split(",").map((a) => (a === "none" ? null : a)),
  bias: String, init: String, loss: String, optimizer: String,
  lr: Number, seed: Number,
  sample: (v) => (v === "all" ? null : Number(v)),
};

/** What the address bar asks for: {setup, steps, stage, param}. */
export function readUrl() {
  const params = new URLSearchParams(location.search);
  const setup = {};
  for (const [key, parse] of Object.entries(URL_FIELDS)) {
    if (params.has(key)) setup[key] = parse(params.get(key));
  }
  const int = (key) => (params.has(key) && /^\d+$/.test(params.get(key)) ? Number(params.get(key)) : 0);
  return { setup, steps: int("steps"), stage: int("stage"), param: params.get("param") };
}

/** Write the view into the address bar (no token: a shared link must not carry it). */
export function writeUrl({ setup, steps, stage, param }) {
  const params = new URLSearchParams();
  if (setup.upload) {
    params.set("upload", setup.upload);
    params.set("target", setup.target);
  } else {
    params.set("example", setup.example);
  }
  params.set("hidden", setup.hidden.join(","));
  params.set("activations", setup.activations.map((a) => a ?? "none").join(","));
  for (const key of ["bias", "init", "loss", "optimizer", "lr", "seed"]) params.set(key, String(setup[key]));
  params.set("sample", setup.sample === null || setup.sample === undefined ? "all" : String(setup.sample));
  if (steps) params.set("steps", String(steps));
  if (stage) params.set("stage", String(stage));
  if (param) params.set("param", param);
  history.replaceState(null, "", `${location.pathname}?${params}`);
}

function fill(select, items, value) {
  select.replaceChildren(...items.map(([name, label]) => el("option", { value: name }, label)));
  if (value !== undefined && value !== null) select.value = value;
}

/** Fill the pickers that do not depend on the data from the options. */
export function fillOptions(options) {
  const groups = { worked: "worked examples", dataset: "datasets" };
  const picker = $("example");
  picker.replaceChildren();
  for (const [kind, label] of Object.entries(groups)) {
    const group = el("optgroup", { label });
    for (const ex of options.examples.filter((e) => e.kind === kind)) {
      group.append(el("option", { value: ex.name, title: ex.description ?? "" }, ex.name));
    }
    if (group.children.length) picker.append(group);
  }
  for (const ex of options.examples.filter((e) => !(e.kind in groups))) {
    picker.append(el("option", { value: ex.name }, ex.name));
  }
  fill($("bias"), options.bias_kinds.map((b) => [b, b]));
  fill($("init"), options.initializers.map((i) => [i.name, i.label ?? i.name]));
  fill($("optimizer"), options.optimizers.map((o) => [o.name, o.label ?? o.name]));
}

/** Show a session's set-up in the form. */
export function showSetup(options, state) {
  const setup = state.setup;
  const task = state.data.task;
  if (setup.upload) {
    $("example").value = "";
  } else {
    $("example").value = setup.example;
  }
  $("seed").value = String(setup.seed);
  $("lr").value = String(setup.lr);
  $("hidden").value = setup.hidden.join(", ");
  $("bias").value = setup.bias;
  $("init").value = setup.init;
  $("optimizer").value = setup.optimizer;
  const losses = options.losses.filter((l) => !l.task || l.task === task);
  fill($("loss-fn"), losses.map((l) => [l.name, l.label ?? l.name]), setup.loss);
  activationPickers(options, setup.hidden.length, setup.activations);
  const samples = [["all", `all ${state.data.n_samples} rows`]];
  if (state.data.n_samples > (options.limits?.max_step_samples ?? Infinity)) samples.length = 0;
  state.data.rows.x.forEach((row, k) => {
    const y = state.data.rows.y[k];
    const label = state.data.classes ? state.data.classes[y] ?? y : y;
    samples.push([String(k), `row ${k}: ${row.slice(0, 3).map((v) => +Number(v).toPrecision(3)).join(", ")}${row.length > 3 ? ", …" : ""} → ${typeof label === "number" ? +label.toPrecision(3) : label}`]);
  });
  fill($("sample"), samples, setup.sample === null || setup.sample === undefined ? "all" : String(setup.sample));
}

/** One activation picker per layer: the hidden ones, then the output (which may have none). */
export function activationPickers(options, nHidden, current = []) {
  const box = $("acts");
  const hidden = options.activations.filter((a) => a.hidden).map((a) => [a.name, a.label ?? a.name]);
  const output = [...options.activations.map((a) => [a.name, a.label ?? a.name]), ["none", "none (linear)"]];
  const pickers = [];
  for (let k = 0; k <= nHidden; k++) {
    const isOut = k === nHidden;
    const select = el("select", { "data-testid": `activation-${k + 1}`, "data-layer": k + 1 });
    fill(select, isOut ? output : hidden);
    const wanted = current[k] === null ? "none" : current[k];
    if (wanted) select.value = wanted;
    pickers.push(el("label", {}, isOut ? "output act." : `layer ${k + 1} act.`, select));
  }
  box.replaceChildren(...pickers);
}

/** The set-up the form describes now, on top of the session's. */
export function readForm(base) {
  const hiddenText = $("hidden").value.trim();
  const hidden = hiddenText === "" ? [] : hiddenText.split(/[,\s]+/).filter(Boolean).map(Number);
  const activations = [...document.querySelectorAll("#acts select")].map((s) => (s.value === "none" ? null : s.value));
  const sample = $("sample").value;
  return {
    ...base,
    hidden,
    activations,
    bias: $("bias").value,
    init: $("init").value,
    loss: $("loss-fn").value,
    optimizer: $("optimizer").value,
    lr: Number($("lr").value),
    seed: Number($("seed").value),
    sample: sample === "all" || sample === "" ? null : Number(sample),
  };
}
