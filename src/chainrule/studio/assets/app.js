// chainrule studio: the page. It asks the server (api.js) for everything it shows and lays
// it out: the set-up (setup.js), the diagram (diagram.js), the stage panel (stage.js) and
// the training strip (charts.js).

import { api, setToken, takeToken } from "./api.js";
import { drawCurve, drawField, drawGradSizes } from "./charts.js";
import { drawNetwork, makeTip } from "./diagram.js";
import { el, full, num, shapeText } from "./format.js";
import { activationPickers, fillOptions, readForm, readUrl, showSetup, writeUrl } from "./setup.js";
import { buildFrames, phaseTitle, renderFrame, renderParam } from "./stage.js";

const $ = (id) => document.getElementById(id);

const S = {
  options: null,
  state: null, // the session: setup, data, network, epoch, loss, grid
  expl: null, // the explanation shown
  applied: false, // whether the shown step has been taken (false: a preview of the next)
  frames: [],
  frame: 0,
  param: null, // the parameter open in the stage panel
  picked: null, // an edge the learner clicked: {param, i, j}
  row: 0, // the sample whose values the diagram shows
  source: null, // the EventSource of a training run
  history: { epochs: [], train: [], val: [] },
  gradNorms: null,
  pending: null, // the newest training update not yet drawn
  live: null, // parameters by name while training
};
const tip = makeTip($("tip"));

// -- errors: one line in the page, the server's own ---------------------------------------
function showError(error) {
  const line = $("error");
  line.textContent = error instanceof Error ? error.message : String(error);
  line.hidden = false;
}
function clearError() { $("error").hidden = true; $("error").textContent = ""; }

// One request at a time, in the order the learner asked: choosing an example while the
// page is still loading waits for the load instead of being lost or racing it.
let queue = Promise.resolve();
let pending = 0;
function guarded(work) {
  // marked busy at once, so whoever waits for the page (a test, a script) sees the work coming
  pending += 1;
  document.body.classList.add("busy");
  queue = queue.then(async () => {
    try {
      clearError();
      await work();
    } catch (error) {
      showError(error);
    } finally {
      pending -= 1;
      if (pending === 0) document.body.classList.remove("busy");
    }
  });
  return queue;
}

// -- sessions ------------------------------------------------------------------------------
async function openSession(setup, steps = 0) {
  stopTraining();
  const old = S.state?.session;
  const state = await api.create({ ...setup, steps: Math.max(0, steps - 1) });
  if (old) api.close(old).catch(() => {}); // an expired session is already gone
  S.state = state;
  S.history = { epochs: [], train: [], val: [] };
  S.gradNorms = null;
  S.live = null;
  S.param = null;
  S.picked = null;
  showSetup(S.options, state);
  $("target-box").hidden = !state.setup.upload;
  $("epoch").textContent = String(state.epoch);
  await explain(steps > 0);
  const start = S.state.loss; // on every training row at the current weights
  if (start !== null) {
    S.history = { epochs: [S.state.epoch], train: [start], val: [S.state.val_loss] };
    renderCharts();
  }
}

/** Explain the step from the current weights; `apply` takes it. */
async function explain(apply) {
  const response = await api.step(S.state.session, { apply, sample: S.state.setup.sample });
  S.expl = response.explanation;
  S.applied = apply;
  S.state.steps = response.steps;
  S.state.epoch = response.epoch;
  if (response.network) S.state.network = response.network;
  if (apply) {
    // the step moved the weights: the server's loss and, for 2-D data, the boundary with them
    const fresh = await api.state(S.state.session);
    Object.assign(S.state, { loss: fresh.loss, val_loss: fresh.val_loss, grid: fresh.grid });
  }
  S.frames = buildFrames(S.expl);
  S.frame = 0;
  S.live = null;
  S.gradNorms = S.expl.grad_norms ?? null;
  S.row = Math.min(S.row, Math.max(0, (xValue()?.length ?? 1) - 1));
  render();
}

// -- rendering -----------------------------------------------------------------------------
function setNumber(node, value) {
  node.textContent = num(value);
  node.title = full(value);
}

function xValue() { return S.expl?.values.find((v) => v.kind === "input")?.value; }

/** The diagram's model of the network for the frame shown (or the live weights). */
function diagramNet() {
  const network = S.state.network;
  const expl = S.live ? null : S.expl;
  const frame = expl ? S.frames[S.frame] : null;
  const after = frame?.after;
  const paramValue = (name) => {
    if (S.live) return S.live[name];
    const p = expl?.parameters.find((q) => q.name === name);
    if (p) return after ? p.updated : p.value;
    return network.parameters.find((q) => q.name === name)?.value;
  };
  const layerValue = (layer) => {
    if (!expl) return undefined;
    const made = expl.values.filter((v) => v.layer === layer && v.op && v.kind !== "loss");
    let shown = made[made.length - 1];
    if (frame?.reached) {
      if (layer > frame.reached.layer) return undefined;
      if (layer === frame.reached.layer) shown = made.find((v) => v.name === frame.reached.value);
    }
    return shown ? rowOf(shown.value) : undefined;
  };
  const rowOf = (value) => (Array.isArray(value?.[0]) ? value[Math.min(S.row, value.length - 1)] : value);
  const inputName = expl?.values.find((v) => v.kind === "input")?.name ?? "X";
  const layers = [{ name: inputName, size: network.sizes[0], labels: S.state.data.features,
    values: expl ? rowOf(xValue()) : undefined }];
  for (const layer of network.layers) {
    const made = expl?.values.filter((v) => v.layer === layer.layer && v.op && v.kind !== "loss") ?? [];
    const name = made.length ? made[made.length - 1].name : `layer ${layer.layer}`;
    layers.push({ name, size: layer.out, values: layerValue(layer.layer) });
  }
  const loss = expl?.values.find((v) => v.kind === "loss");
  const showLoss = expl && (!frame?.reached);
  return {
    layers,
    weights: network.layers.map((layer) => ({ name: layer.weight, value: paramValue(layer.weight) })),
    biases: network.layers.map((layer) => (layer.bias_param
      ? { name: layer.bias_param, kind: layer.bias, value: paramValue(layer.bias_param) } : null)),
    loss: { name: loss?.name ?? "E", value: showLoss ? (after ? S.expl.loss_after : S.expl.loss) : null },
  };
}

function drawDiagram() {
  const frame = S.live ? null : S.frames[S.frame];
  // an open parameter is what the learner is looking at: outline it instead of the stage
  const open = S.param && S.state.network.parameters.find((p) => p.name === S.param);
  const highlight = open ? { layer: open.layer, part: open.kind === "bias" ? "bias" : "weights" } : frame?.highlight;
  drawNetwork($("net"), diagramNet(), {
    highlight: highlight ?? null,
    picked: S.picked,
    tip,
    onPick: (pick) => guarded(() => pickEdge(pick)),
  });
  tip.refresh();
}

function renderParams() {
  const box = $("params");
  box.replaceChildren(...S.state.network.parameters.map((p) => {
    const button = el("button", { type: "button", "data-testid": `param-${p.name}`,
      class: S.param === p.name ? "selected" : null, title: `${p.name}: ${p.kind} of layer ${p.layer}` },
    p.name, el("span", { class: "shape" }, shapeText(p.shape)));
    button.addEventListener("click", () => openParam(p.name));
    return button;
  }));
}

function renderStage() {
  const root = $("stage");
  if (!S.expl) { root.replaceChildren(el("p", {}, "Take a step to see it explained.")); return; }
  if (S.param) {
    renderParam(root, S.expl, S.param, {
      picked: S.picked,
      onStage: (k) => { S.param = null; S.frame = S.frames.findIndex((f) => f.stage === k); render(); },
      onClose: () => { S.param = null; S.picked = null; render(); },
    });
  } else {
    renderFrame(root, S.expl, S.frames, S.frame, { onParam: openParam });
  }
  $("stage-count").textContent = `${S.frame + 1} / ${S.frames.length}`;
  $("prev-stage").disabled = S.frame === 0;
  $("next-stage").disabled = S.frame === S.frames.length - 1;
}

function renderHead() {
  setNumber($("train-loss"), S.state.loss);
  const frame = S.frames[S.frame];
  const steps = S.state.steps ?? 0;
  const label = S.applied ? `step ${steps}` : "the next step (preview)";
  $("phase-name").textContent = S.live ? `training · epoch ${S.state.epoch}` : `${label} · ${frame ? phaseTitle(frame) : ""}`;
  if (S.expl) {
    setNumber($("loss"), S.expl.loss);
    setNumber($("loss-after"), S.expl.loss_after);
  }
  const rows = xValue()?.length ?? 0;
  const picker = $("row");
  picker.hidden = rows <= 1;
  if (rows > 1 && picker.options.length !== rows) {
    picker.replaceChildren(...Array.from({ length: rows }, (_, k) => el("option", { value: k }, `sample ${k + 1} of ${rows}`)));
  }
  picker.value = String(S.row);
}

function renderDiagnostics(findings) {
  const box = $("diagnostics");
  // each message names what it is about already: the kind is its only label
  const items = (findings ?? []).map((f) => el("p", { "data-kind": f.kind, "data-where": f.where }, el("b", {}, f.kind), " ", f.message));
  box.replaceChildren(el("h4", {}, "What to notice"), ...(items.length ? items : [el("p", { class: "muted" }, "Nothing unusual in this step.")]));
}

function renderCharts() {
  drawCurve($("curve"), S.history);
  const twoD = !!S.state.data.points;
  $("field").hidden = !twoD;
  $("field-none").hidden = twoD;
  $("field-cap").textContent = S.state.data.task === "classification" ? "decision boundary" : "fitted surface";
  if (twoD) drawField($("field"), S.state.grid, S.state.data.points);
  drawGradSizes($("gradsizes"), (S.gradNorms ?? []).map((g) => ({ name: g.param ?? `layer ${g.layer}`, value: g.norm })));
}

function render() {
  renderHead();
  renderParams();
  renderStage();
  drawDiagram();
  renderDiagnostics(S.expl?.diagnostics);
  renderCharts();
  writeUrl({ setup: S.state.setup, steps: S.applied ? S.state.steps : 0, stage: S.frame, param: S.param });
}

// -- what the learner does -----------------------------------------------------------------
function go(delta) {
  if (!S.expl || S.live) return;
  const next = Math.max(0, Math.min(S.frames.length - 1, S.frame + delta));
  S.param = null;
  S.picked = null;
  S.frame = next;
  render();
}

function openParam(name) {
  if (!S.expl) return;
  S.param = name;
  if (S.picked && S.picked.param !== name) S.picked = null;
  render();
}

async function pickEdge(pick) {
  S.picked = pick;
  S.param = pick.param;
  const isWeight = S.state.network.layers.some((l) => l.weight === pick.param);
  const has = S.expl.weights?.some((w) => w.param === pick.param && w.index[0] === pick.i && w.index[1] === pick.j);
  if (isWeight && !has) {
    try {
      const response = await api.weights(S.state.session, [`${pick.param}[${pick.i},${pick.j}]`]);
      S.expl.weights = [...(S.expl.weights ?? []), ...response.weights];
    } catch (error) {
      if (error.status !== 404 && error.status !== 405) throw error; // a server without the view
    }
  }
  render();
}

// -- training --------------------------------------------------------------------------------
function stopTraining() {
  if (S.source) { S.source.close(); S.source = null; }
  setRunning(false);
}

function setRunning(running) {
  const button = $("train");
  button.classList.toggle("running", running);
  button.textContent = running ? "❚❚ pause" : "▶ train";
  button.setAttribute("aria-pressed", running ? "true" : "false");
  for (const id of ["step", "next-stage", "prev-stage", "apply"]) $(id).disabled = running;
}

function toggleTraining() {
  if (!S.state) return;
  if (S.source) {
    api.pause(S.state.session).catch(showError);
    return;
  }
  clearError();
  const epochs = Math.max(1, Math.floor(Number($("epochs").value) || 1));
  const every = Math.max(1, Math.floor(Number($("speed").value) || 1));
  const source = new EventSource(api.trainUrl(S.state.session, { epochs, every }));
  S.source = source;
  S.param = null;
  setRunning(true);
  source.addEventListener("update", (event) => {
    const update = JSON.parse(event.data);
    S.history.epochs.push(update.epoch);
    S.history.train.push(update.loss);
    S.history.val.push(update.val_loss);
    if (!S.pending) requestAnimationFrame(drawUpdate);
    S.pending = update;
  });
  source.addEventListener("done", (event) => {
    const done = JSON.parse(event.data);
    stopTraining();
    if (done.reason === "diverged" && done.message) showError(done.message);
    guarded(() => explain(false)); // the stage panel shows the step from the trained weights
  });
  source.addEventListener("error", (event) => {
    if (event.data) showError(JSON.parse(event.data).error);
    else if (S.source) showError("the training stream stopped: is chainrule studio still running?");
    stopTraining();
  });
}

/** Draw the newest update once per frame, however fast updates arrive. */
function drawUpdate() {
  const update = S.pending;
  S.pending = null;
  if (!update) return;
  S.state.epoch = update.epoch;
  S.state.loss = update.loss;
  if (update.grid) S.state.grid = update.grid;
  S.live = update.parameters;
  S.gradNorms = update.grad_norms;
  $("epoch").textContent = String(update.epoch);
  setNumber($("train-loss"), update.loss);
  setNumber($("loss"), update.loss);
  renderHead();
  drawDiagram();
  renderCharts();
  if (update.diagnostics) renderDiagnostics(update.diagnostics);
}

// -- wiring ----------------------------------------------------------------------------------
function rebuild(change = {}) {
  return guarded(() => openSession({ ...readForm(S.state.setup), ...change }));
}

function download(url) {
  const link = el("a", { href: url, download: "" });
  document.body.append(link);
  link.click();
  link.remove();
}

function wire() {
  $("example").addEventListener("change", (e) => guarded(() => openSession({ example: e.target.value })));
  $("seed").addEventListener("change", () => rebuild());
  $("lr").addEventListener("change", () => rebuild());
  $("hidden").addEventListener("input", () => {
    const count = $("hidden").value.trim() === "" ? 0 : $("hidden").value.trim().split(/[,\s]+/).filter(Boolean).length;
    const current = [...document.querySelectorAll("#acts select")].map((s) => (s.value === "none" ? null : s.value));
    if (count !== current.length - 1) {
      const hiddenActs = current.slice(0, -1);
      while (hiddenActs.length < count) hiddenActs.push(hiddenActs[hiddenActs.length - 1] ?? S.options.activations.find((a) => a.hidden)?.name);
      activationPickers(S.options, count, [...hiddenActs.slice(0, count), current[current.length - 1]]);
    }
  });
  $("net-form").addEventListener("submit", (e) => { e.preventDefault(); rebuild(); });
  $("sample").addEventListener("change", () => {
    const value = $("sample").value;
    S.state.setup.sample = value === "all" ? null : Number(value);
    S.row = 0;
    guarded(() => explain(false));
  });
  $("row").addEventListener("change", () => { S.row = Number($("row").value); render(); });
  $("csv").addEventListener("change", () => {
    const file = $("csv").files[0];
    if (!file) return;
    guarded(async () => {
      const upload = await api.upload(file);
      const target = $("target");
      target.replaceChildren(...upload.columns.map((c) => el("option", { value: c }, c)));
      target.value = upload.columns[upload.columns.length - 1];
      $("target-box").hidden = false;
      target.dataset.upload = upload.upload;
      await openSession({ upload: upload.upload, target: target.value });
    });
  });
  $("target").addEventListener("change", () => {
    const upload = $("target").dataset.upload ?? S.state.setup.upload;
    guarded(() => openSession({ upload, target: $("target").value }));
  });
  $("step").addEventListener("click", () => guarded(() => explain(true)));
  $("next-stage").addEventListener("click", () => go(1));
  $("prev-stage").addEventListener("click", () => go(-1));
  $("train").addEventListener("click", toggleTraining);
  $("share").addEventListener("click", async () => {
    render();
    try { await navigator.clipboard.writeText(location.href); $("share").textContent = "link copied"; }
    catch { $("share").textContent = "link in the address bar"; }
    setTimeout(() => { $("share").textContent = "share"; }, 2000);
  });
  $("export-html").addEventListener("click", () => download(api.exportUrl(S.state.session, "explanation", "html")));
  $("export-md").addEventListener("click", () => download(api.exportUrl(S.state.session, "explanation", "markdown")));
  $("export-model").addEventListener("click", () => download(api.exportUrl(S.state.session, "model")));
  document.addEventListener("keydown", (event) => {
    const tag = event.target.tagName;
    const typing = tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA";
    if (event.key === "ArrowRight" && !typing) { event.preventDefault(); go(1); }
    else if (event.key === "ArrowLeft" && !typing) { event.preventDefault(); go(-1); }
    else if (event.key === " " && !typing) { event.preventDefault(); toggleTraining(); }
  });
  // a focused button would also "click" on the space bar's release: space trains, once
  document.addEventListener("keyup", (event) => { if (event.key === " " && event.target.tagName === "BUTTON") event.preventDefault(); });
  window.addEventListener("pagehide", () => {
    if (S.source) S.source.close();
    if (S.state) api.closeOnLeave(S.state.session);
  });
  // a picker keeps the focus after a choice, and a focused <select> takes the arrow keys
  // for itself: hand them back to the stages
  for (const id of ["example", "sample", "row", "target"]) $(id).addEventListener("change", (e) => e.target.blur());
  let resizing = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(resizing);
    resizing = requestAnimationFrame(() => { if (S.state) { drawDiagram(); renderCharts(); } });
  });
}

async function start() {
  setToken(takeToken());
  wire();
  await guarded(async () => {
    S.options = await api.options();
    fillOptions(S.options);
    const wanted = readUrl();
    // the address bar's set-up, else the one chainrule studio was started with
    const setup = Object.keys(wanted.setup).length ? wanted.setup
      : S.options.start ?? { example: S.options.examples[0].name };
    await openSession(setup, wanted.steps);
    if (wanted.stage) S.frame = Math.min(wanted.stage, S.frames.length - 1);
    if (wanted.param && S.state.network.parameters.some((p) => p.name === wanted.param)) S.param = wanted.param;
    render();
  });
}

start();
