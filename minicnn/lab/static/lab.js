// minicnn lab: the page. Plain JavaScript, no build step; every number comes from the JSON API
// (minicnn/lab/app.py documents it). Arrays arrive as {shape, min, max, b64}: float32, base64.
"use strict";

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  kids.forEach((k) => e.append(k));
  return e;
};

// ------------------------------------------------------------------ API and arrays
async function api(path, body) {
  const opts = body === undefined ? {} :
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch(path, opts);
  const data = await r.json();
  if (!r.ok) { const e = new Error(data.error || r.statusText); e.status = r.status; throw e; }
  return data;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

function decode(a) {
  const bytes = atob(a.b64);
  const buf = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) buf[i] = bytes.charCodeAt(i);
  return { shape: a.shape, min: a.min, max: a.max, data: new Float32Array(buf.buffer) };
}

// colour of value v: "seq" black→yellow over [0, hi]; "div" blue–white–red over [-hi, hi];
// "sqrt" as "div" with the colour ∝ √|v| (gradients are sparse: a few large entries, many small)
function colour(v, hi, mode) {
  const white = mode === "div" || mode === "sqrt";
  if (!(hi > 0)) return white ? [255, 255, 255] : [0, 0, 0];
  if (white) {
    let t = Math.max(-1, Math.min(1, v / hi));
    if (mode === "sqrt") t = Math.sign(t) * Math.sqrt(Math.abs(t));
    return t >= 0 ? [255, Math.round(255 * (1 - t)), Math.round(255 * (1 - t))]
                  : [Math.round(255 * (1 + t)), Math.round(255 * (1 + t)), 255];
  }
  if (mode === "grey") { const g = Math.round(255 * Math.max(0, Math.min(1, v / hi))); return [g, g, g]; }
  const t = Math.max(0, Math.min(1, v / hi));   // a small "inferno"-like ramp
  return [Math.round(255 * Math.min(1, 1.6 * t)), Math.round(255 * Math.max(0, 1.7 * t - 0.6)),
          Math.round(255 * Math.max(0, t < 0.35 ? 1.6 * t : 1.4 * t - 0.75) * 0.9)];
}

// draw an h×w slice of values (starting at offset) into a new canvas of cell px per value; hovering a
// cell shows its value in the readout at the bottom of the window (and in the canvas's tooltip)
function mapCanvas(values, offset, h, w, hi, mode, cell, label = "", count = h * w) {
  const c = el("canvas");
  c.addEventListener("mousemove", (ev) => {
    const r = Math.min(h - 1, Math.floor(ev.offsetY / cell)), col = Math.min(w - 1, Math.floor(ev.offsetX / cell));
    const k = r * w + col;
    if (k >= count) return;
    const where = h * w === 1 ? "" : h === 1 ? `[${col}]` : count === h * w ? `[${r}, ${col}]` : `[${k}]`;
    const text = `${label}${where} = ${values[offset + k].toPrecision(4)}`;
    c.title = text;
    $("hover-value").textContent = text;
    $("hover-value").hidden = false;
  });
  c.addEventListener("mouseleave", () => { $("hover-value").hidden = true; });
  c.width = w; c.height = h;
  c.style.width = `${w * cell}px`; c.style.height = `${h * cell}px`;
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    const [r, g, b] = colour(values[offset + i], hi, mode);
    img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

function absMax(a) { return Math.max(Math.abs(a.min), Math.abs(a.max)); }

// the colour scale of a picture: a ramp from its lowest to its highest colour, with the values at the ends
function scaleLegend(mode, hi) {
  const n = 64, ramp = new Float32Array(n);
  const diverging = mode === "div" || mode === "sqrt";
  for (let i = 0; i < n; i++) ramp[i] = diverging ? hi * (2 * i / (n - 1) - 1) : hi * i / (n - 1);
  const bar = mapCanvas(ramp, 0, 1, n, hi, mode, 2);
  bar.style.height = "10px";
  const f = (v) => (v === 0 ? "0" : v.toPrecision(2));
  const lo = diverging ? `−${f(hi)}` : "0";
  const note = mode === "sqrt" ? " (colour ∝ √|value|)" : "";
  return el("span", { class: "scale" }, el("span", { text: lo }), bar,
    el("span", { text: `${diverging ? "+" : ""}${f(hi)}${note}` }));
}

// a vector of n values: one row of cells, wrapped at 32 a row; a vector of 10 gets the class under each cell
function vectorCanvas(data, hi, mode, label) {
  const n = data.length;
  if (n === 10) {
    const row = el("div", { class: "classes" });
    for (let k = 0; k < 10; k++) {
      row.append(el("div", { class: "class-cell" }, mapCanvas(data, k, 1, 1, hi, mode, 26, `${label} class ${k}`),
        el("span", { text: String(k) })));
    }
    return row;
  }
  const per = Math.min(n, 32), rows = Math.ceil(n / per);
  const padded = new Float32Array(rows * per); padded.set(data);
  const cell = Math.max(4, Math.min(n <= 32 ? 14 : 10, Math.floor((window.innerWidth - 60) / per)));
  return mapCanvas(padded, 0, rows, per, hi, mode, cell, label, n);
}

// a layer's output: (C, H, W) maps as C small images, or (F,) as one strip of cells
function layerBlock(title, encoded, opts = {}) {
  const a = decode(encoded);
  const mode = opts.mode || (a.min < 0 ? "div" : "seq");
  const hi = mode === "div" || mode === "sqrt" ? absMax(a) : a.max;
  const maps = el("div", { class: "maps" });
  if (a.shape.length === 3) {
    const [C, H, W] = a.shape;
    const cell = opts.cell || Math.max(1, Math.round((opts.px || 42) / W));
    for (let c = 0; c < C; c++) {
      const cv = mapCanvas(a.data, c * H * W, H, W, hi, mode, cell, `${title} map ${c} `);
      cv.title = `${title} map ${c}`;
      cv.dataset.index = c;
      if (opts.onClick) { cv.classList.add("clickable"); cv.addEventListener("click", () => opts.onClick(c, cv)); }
      maps.append(cv);
    }
  } else {
    maps.append(vectorCanvas(a.data, hi, mode, title));
  }
  const range = `min ${a.min.toPrecision(3)}, max ${a.max.toPrecision(3)}`;
  return el("div", { class: "layer" },
    el("div", { class: "layer-title" }, title + " ", el("span", { text: `(${a.shape.join("×")}) ${range} ` }),
      scaleLegend(mode, hi)), maps);
}

function bars(container, probs, highlight) {
  container.replaceChildren();
  const top = probs.indexOf(Math.max(...probs));
  probs.forEach((p, k) => {
    const row = k === top ? "top" : "";
    container.append(el("span", { class: `label ${row}`, text: String(k) }),
      el("div", { class: `track ${row}` }, el("div", { class: "fill", style: `width:${(100 * p).toFixed(1)}%` })),
      el("span", { class: "pct", text: `${(100 * p).toFixed(1)}%` }));
  });
  container.dataset.top = top;
}

const LAYER_TITLES = { relu1: "conv1 → ReLU", pool1: "pool1", relu2: "conv2 → ReLU", pool2: "pool2",
                       relu3: "fc1 → ReLU", fc2: "fc2 (logits)" };

// ------------------------------------------------------------------ tabs
let current = "draw";
function showView(name) {
  current = name;
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.dataset.view === name));
  document.querySelectorAll(".view").forEach((v) => v.classList.toggle("active", v.id === `view-${name}`));
  document.body.dataset.view = name;
  showError("");   // an error belongs to the view it happened in
  if (name === "train") pollTraining();
}
document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => showView(t.dataset.view)));

// ------------------------------------------------------------------ Draw
const pad = $("pad");
const padCtx = pad.getContext("2d");
let strokes = 0, inflight = false, wanted = 0;

function clearPad() {
  padCtx.fillStyle = "#fff";
  padCtx.fillRect(0, 0, pad.width, pad.height);
  strokes = 0; wanted = 0;
  pad.dataset.strokes = 0; pad.dataset.shown = 0;
  $("predicted").textContent = "–"; $("confidence").textContent = "";
  $("bars").replaceChildren(); $("layers").replaceChildren();
  $("input28").getContext("2d").clearRect(0, 0, 168, 168);
  $("draw-status").textContent = "draw with the mouse or a finger";
  $("draw-status").classList.remove("warn");
  $("filter-panel").hidden = true;
  delete $("filter-panel").dataset.filter;
  $("filter-view").replaceChildren();
}

function padPoint(ev) {
  const r = pad.getBoundingClientRect();
  return [(ev.clientX - r.left) * pad.width / r.width, (ev.clientY - r.top) * pad.height / r.height];
}

let drawing = null;
pad.addEventListener("pointerdown", (ev) => {
  ev.preventDefault();
  pad.setPointerCapture(ev.pointerId);
  drawing = ev.pointerId;
  const [x, y] = padPoint(ev);
  padCtx.lineWidth = 20; padCtx.lineCap = "round"; padCtx.lineJoin = "round"; padCtx.strokeStyle = "#000";
  padCtx.beginPath(); padCtx.moveTo(x, y); padCtx.lineTo(x + 0.01, y); padCtx.stroke();
});
pad.addEventListener("pointermove", (ev) => {
  if (drawing !== ev.pointerId) return;
  const [x, y] = padPoint(ev);
  padCtx.lineTo(x, y); padCtx.stroke();
});
function endStroke(ev) {
  if (drawing !== ev.pointerId) return;
  drawing = null;
  strokes += 1;
  pad.dataset.strokes = strokes;
  requestPrediction();
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);
$("clear").addEventListener("click", clearPad);

// one request at a time; strokes drawn meanwhile are sent together when it returns
async function requestPrediction() {
  wanted = strokes;
  if (inflight) return;
  inflight = true;
  try {
    while (Number(pad.dataset.shown) !== wanted && wanted > 0) {
      const asked = wanted;
      $("draw-status").textContent = "thinking…";
      try {
        const answer = await api("/api/predict", { image: pad.toDataURL("image/png") });
        if (strokes === 0) break;   // cleared meanwhile
        showPrediction(answer);
        showError("");
        $("draw-status").textContent = answer.warning || "";
        $("draw-status").classList.toggle("warn", Boolean(answer.warning));
      } catch (e) {
        $("draw-status").textContent = e.message;
        if (e.status === 409) $("no-model").hidden = false;
      }
      pad.dataset.shown = asked;
    }
  } finally { inflight = false; }
}

function showPrediction(answer) {
  const cls = answer.class;
  $("predicted").textContent = cls;
  $("confidence").textContent = `${(100 * answer.probabilities[cls]).toFixed(1)}% sure`;
  $("draw-weights").textContent = `weights: ${answer.weights}`;
  bars($("bars"), answer.probabilities);
  const input = decode(answer.input);
  const small = mapCanvas(input.data, 0, 28, 28, 1, "grey", 1);
  const ctx = $("input28").getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, 168, 168);
  renderLayers($("layers"), answer.layers, true);
  lastLayers = answer.layers;
}

let lastLayers = null;
function renderLayers(container, layers, clickable) {
  container.replaceChildren();
  for (const layer of layers) {
    const title = LAYER_TITLES[layer.name] || layer.name;
    const onClick = clickable && layer.filter ? (i, cv) => showFilter(layer, i, cv) : null;
    container.append(layerBlock(title, layer.values, { onClick, px: layer.shape[1] >= 28 ? 56 : 42 }));
  }
}

async function showFilter(layer, index, canvas) {
  document.querySelectorAll(".maps canvas.selected").forEach((c) => c.classList.remove("selected"));
  canvas.classList.add("selected");
  try {
    const f = await api(`/api/filter?name=${encodeURIComponent(layer.filter)}&index=${index}`);
    const w = decode(f.weights);
    const [C, KH, KW] = w.shape;
    const hi = absMax(w);
    const view = $("filter-view");
    view.replaceChildren();
    const map = decode(layer.values);
    const [, H, W] = map.shape;
    view.append(el("p", { class: "small", text: `${LAYER_TITLES[layer.name] || layer.name}, map ${index}:` }),
      mapCanvas(map.data, index * H * W, H, W, map.min < 0 ? absMax(map) : map.max, map.min < 0 ? "div" : "seq",
        Math.round(112 / W), `map ${index} `));
    view.append(el("p", { class: "small", text: `made by filter ${index} of ${f.name} (${C}×${KH}×${KW}), ` +
      `bias ${f.bias === null ? "none" : f.bias.toFixed(3)}; red +, blue −, up to ±${hi.toPrecision(2)}` +
      (C > 1 ? `; one ${KH}×${KW} slice per input channel` : "") }));
    const grid = el("div", { class: "filter-grid" });
    const cell = C === 1 ? 36 : 10;
    for (let c = 0; c < C; c++) grid.append(mapCanvas(w.data, c * KH * KW, KH, KW, hi, "div", cell, `weight[${c}] `));
    view.append(scaleLegend("div", hi), grid);
    $("filter-title").textContent = `Filter ${index} of ${f.name}`;
    $("filter-panel").hidden = false;
    $("filter-panel").dataset.filter = `${f.name}:${index}`;
  } catch (e) { showError(e.message); }
}

// ------------------------------------------------------------------ Train
const form = $("train-form");
let losses = [], smoothed = [], accuracies = [], snapVersion = 0, trainState = "idle", pollTimer = null;
let infoState = null;   // the training state when the header was last updated

function settings() {
  const s = {};
  for (const [k, v] of new FormData(form).entries()) {
    if (v === "") continue;
    s[k] = (k === "model" || k === "optimizer") ? v : Number(v);
  }
  return s;
}

async function trainCommand(cmd) {
  try {
    const body = cmd === "start" ? settings() : {};
    const st = await api(`/api/train/${cmd}`, body);
    if (cmd === "start") { losses = []; smoothed = []; accuracies = []; snapVersion = 0; drawChart(); }
    showError("");
    showStatus(st);
    pollTraining();
  } catch (e) { showError(e.message); }
}
["start", "pause", "resume", "stop"].forEach((c) => $(`train-${c}`).addEventListener("click", () => trainCommand(c)));
$("goto-train").addEventListener("click", () => showView("train"));

function showStatus(st) {
  trainState = st.state;
  $("train-state").textContent = st.state + (st.error ? `: ${st.error}` : "");
  $("train-state").dataset.state = st.state;
  $("train-state").dataset.run = st.out || "";
  if (st.losses && st.since === losses.length) {
    losses.push(...st.losses); smoothed.push(...st.smoothed);
  }
  if (st.accuracies) accuracies = st.accuracies;
  const active = st.state === "running" || st.state === "paused";
  $("train-start").disabled = active;
  $("train-pause").disabled = st.state !== "running";
  $("train-resume").disabled = st.state !== "paused";
  $("train-stop").disabled = !active;
  if (st.state !== "idle") {
    const last = losses.length ? losses[losses.length - 1].toFixed(4) : "–";
    const acc = accuracies.length ? `${accuracies[accuracies.length - 1].accuracy.toFixed(1)}%` : "–";
    $("train-progress").textContent = `step ${st.step} of ${st.total_steps}, epoch ${st.epoch}; ` +
      `loss ${last}; test accuracy ${acc}` +
      (st.test_accuracy != null ? `; final test accuracy ${st.test_accuracy.toFixed(2)}%` : "") +
      (st.state === "done" || st.state === "stopped" ? `; saved in ${st.out}` : "");
  }
  $("accuracy").textContent = accuracies.map((a) => `step ${a.step}: ${a.accuracy.toFixed(1)}%`).join(" · ");
  drawChart();
  if (st.snapshot_version && st.snapshot_version !== snapVersion) loadSnapshot(st.snapshot_version);
  if (st.snapshot_version && st.state !== infoState) { infoState = st.state; updateInfo(); }
}

async function pollTraining() {
  clearTimeout(pollTimer);
  try {
    showStatus(await api(`/api/train/status?since=${losses.length}`));
  } catch (e) { showError(e.message); }
  if (trainState === "running" || trainState === "paused") pollTimer = setTimeout(pollTraining, 400);
}

function drawChart() {
  const c = $("loss-chart"), ctx = c.getContext("2d");
  const W = c.width, H = c.height, L = 48, R = 44, T = 10, B = 28;
  ctx.clearRect(0, 0, W, H);
  ctx.font = "12px system-ui, sans-serif"; ctx.fillStyle = "#6b7280"; ctx.strokeStyle = "#d9dde5";
  const n = Math.max(losses.length, 2);
  const top = Math.max(0.1, ...losses.slice(0, 50), ...smoothed) * 1.05;
  const x = (i) => L + (W - L - R) * i / (n - 1);
  const y = (v) => T + (H - T - B) * (1 - Math.min(v, top) / top);
  for (let k = 0; k <= 4; k++) {
    const v = top * k / 4;
    ctx.beginPath(); ctx.moveTo(L, y(v)); ctx.lineTo(W - R, y(v)); ctx.stroke();
    ctx.fillText(v.toFixed(2), 6, y(v) + 4);
    ctx.fillText(`${25 * k}%`, W - R + 6, y(v) + 4);
  }
  ctx.fillText("step", W / 2, H - 6); ctx.fillText("0", L, H - 12); ctx.fillText(String(losses.length), W - R - 20, H - 12);
  const line = (vals, style, width) => {
    if (!vals.length) return;
    ctx.strokeStyle = style; ctx.lineWidth = width; ctx.beginPath();
    vals.forEach((v, i) => (i ? ctx.lineTo(x(i), y(v)) : ctx.moveTo(x(i), y(v))));
    ctx.stroke(); ctx.lineWidth = 1;
  };
  line(losses, "#93c5fd", 1);
  line(smoothed, "#1d4ed8", 2.5);
  ctx.fillStyle = "#16a34a";
  for (const a of accuracies) {
    const px = x(a.step - 1), py = T + (H - T - B) * (1 - a.accuracy / 100);
    ctx.beginPath(); ctx.arc(px, py, 4, 0, 2 * Math.PI); ctx.fill();
  }
  c.dataset.points = losses.length;
}

async function loadSnapshot(version) {
  snapVersion = version;
  let snap;
  try { snap = await api("/api/train/snapshot"); } catch (e) { return; }
  if (snap.filters) {
    const w = decode(snap.filters.weights);
    const [O, C, KH, KW] = w.shape;
    const hi = absMax(w);
    const grid = $("filters"); grid.replaceChildren();
    for (let o = 0; o < O; o++) grid.append(mapCanvas(w.data, o * C * KH * KW, KH, KW, hi, "div", 12));
    $("filters-name").textContent = `${snap.filters.name} ${O}×${C}×${KH}×${KW}` + (C > 1 ? " (input channel 0)" : "") +
      `, step ${snap.step}; red +, blue −, up to ±${hi.toPrecision(2)}`;
    const gg = $("filter-grads"); gg.replaceChildren();
    if (snap.filters.grads) {
      const g = decode(snap.filters.grads), ghi = absMax(g);
      for (let o = 0; o < O; o++) gg.append(mapCanvas(g.data, o * C * KH * KW, KH, KW, ghi, "div", 12));
      gg.append(el("span", { class: "legend", text: `up to ±${ghi.toPrecision(2)}` }));
    }
    grid.dataset.version = snap.version;
  }
  const table = $("norms"); table.replaceChildren(el("tr", {},
    el("th", { text: "parameter" }), el("th", { text: "‖W‖" }), el("th", {}), el("th", { text: "‖∇W‖" }), el("th", {})));
  const wmax = Math.max(...snap.norms.map((r) => r.weight)), gmax = Math.max(...snap.norms.map((r) => r.grad || 0));
  for (const r of snap.norms) {
    table.append(el("tr", {}, el("td", { text: r.name }), el("td", { class: "num", text: r.weight.toFixed(3) }),
      el("td", {}, el("div", { class: "bar", style: `width:${(120 * r.weight / wmax).toFixed(0)}px` })),
      el("td", { class: "num", text: r.grad == null ? "–" : r.grad.toExponential(2) }),
      el("td", {}, el("div", { class: "bar g", style: `width:${(120 * (r.grad || 0) / (gmax || 1)).toFixed(0)}px` }))));
  }
  $("norms-step").textContent = `at step ${snap.step}`;
  bars($("digit-bars"), snap.digit.probabilities);
  $("digit-info").textContent = `(test image 0, a ${snap.digit.label}; at step ${snap.step})`;
  renderLayers($("digit-layers"), snap.digit.layers, false);
}

// ------------------------------------------------------------------ Backprop
let bpSteps = [], bpAt = -1, bpRun = null;

$("bp-run").addEventListener("click", async () => {
  const source = document.querySelector("input[name=bp-source]:checked").value;
  const body = source === "drawing" ? { image: pad.toDataURL("image/png") } : { digit: Number($("bp-digit").value || 0) };
  if ($("bp-label").value !== "") body.label = Number($("bp-label").value);
  try {
    $("bp-title").textContent = "computing…";
    const r = await api("/api/backprop", body);
    bpSteps = r.steps; bpAt = -1; bpRun = r;
    $("bp-weights").textContent = `weights: ${r.weights}`;
    const sure = r.probabilities[r.label];
    $("bp-hint").hidden = !(r.loss < 0.01);
    $("bp-hint").textContent = `The model is ${(100 * sure).toFixed(2)}% sure of class ${r.label}, so the loss is ` +
      `${r.loss.toExponential(1)} and every gradient is about that small: the pictures are nearly white. ` +
      `Put a wrong class in “loss against class” and run again to see what would change its mind.`;
    const list = $("bp-steps"); list.replaceChildren();
    const yours = r.yours;
    $("bp-yours").hidden = !yours;
    if (yours) {
      $("bp-yours").textContent = yours.error ? `Your kernels (${yours.folder}) raised: ${yours.error}` :
        yours.first_different === null ?
          `Your kernels (${yours.kernels.join(", ")} from ${yours.folder}) compute what minicnn's do at every step.` :
          `Your kernels (${yours.kernels.join(", ")} from ${yours.folder}) first differ from minicnn's at step ` +
          `${yours.first_different + 1}, ${r.steps[yours.first_different].phase} ${r.steps[yours.first_different].name}` +
          ` (relative difference ${yours.steps[yours.first_different].difference.toPrecision(2)}, marked ✗): ` +
          `look at ${yours.culprit}.`;
      $("bp-yours").classList.toggle("wrong", Boolean(yours.error) || yours.first_different !== null);
    }
    bpSteps.forEach((s, i) => {
      const li = el("li", { class: s.phase, text: `${s.phase === "forward" ? "→" : "←"} ${s.name}` +
        (s.inputs && s.inputs.length > 1 ? ` (${s.inputs.join(" + ")})` : "") });
      if (yours && yours.first_different === i) { li.classList.add("wrong"); li.append(" ✗"); }
      li.addEventListener("click", () => showStep(i));
      list.append(li);
    });
    showError("");
    showStep(0);
  } catch (e) { showError(e.message); $("bp-title").textContent = "Press “Run”"; }
});
$("bp-prev").addEventListener("click", () => showStep(bpAt - 1));
$("bp-next").addEventListener("click", () => showStep(bpAt + 1));
document.addEventListener("keydown", (ev) => {
  if (current !== "backprop" || !bpSteps.length || ev.target.tagName === "INPUT") return;
  if (ev.key === "ArrowRight") showStep(bpAt + 1);
  if (ev.key === "ArrowLeft") showStep(bpAt - 1);
});

function showStep(i) {
  if (i < 0 || i >= bpSteps.length) return;
  bpAt = i;
  const s = bpSteps[i];
  [...$("bp-steps").children].forEach((li, k) => {
    li.classList.toggle("done", k <= i); li.classList.toggle("current", k === i);
  });
  $("bp-prev").disabled = i === 0; $("bp-next").disabled = i === bpSteps.length - 1;
  $("bp-counter").textContent = `step ${i + 1} of ${bpSteps.length}`;
  $("bp-counter").dataset.step = i;
  const title = $("bp-title"); title.replaceChildren(el("span", { class: `phase ${s.phase}`, text: s.phase }),
    ` ${s.name} (${s.op})` + (s.shape.length ? `, output ${s.shape.join("×")}` : ""));
  $("bp-formula").textContent = s.formula;
  $("bp-formula").className = `formula ${s.phase}`;
  $("bp-where").textContent = s.where ? `where ${s.where}` : "";
  const link = el("a", { href: `/docs/backprop#${s.doc}`, target: "_blank", text: `docs/backprop.md#${s.doc}` });
  $("bp-doc").replaceChildren("derived in ", link);
  const d = $("bp-detail"); d.replaceChildren();
  const px = s.shape[1] >= 28 ? 84 : 56;
  if (s.op === "loss" && s.phase === "forward") {
    d.append(el("p", { text: `loss L = ${s.loss.toFixed(4)} against class ${s.label}; softmax P:` }));
    const b = el("div", { class: "bars" }); bars(b, s.probabilities); d.append(b);
  } else if (s.phase === "forward") {
    const inputs = (s.inputs || []).map((n) => forwardOf(n)).filter((f) => f);
    const side = el("div", { class: "side" });
    for (const f of inputs) side.append(layerBlock(`in: ${f.name}`, f.values, { px: px / 2 }));
    side.append(layerBlock(`out: ${s.name}`, s.values, { px }));
    d.append(side);
    yoursBlock(d, i, "values", px);
  } else {
    d.append(el("p", { class: "legend",
      text: "red: raising this value raises the loss; blue: lowers it; colour ∝ √|gradient|; hover a cell for its value" }));
    const side = el("div", { class: "side" });
    const fwd = forwardOf(s.name);
    if (fwd && s.op !== "loss") side.append(layerBlock(`its output, ${s.name}`, fwd.values, { px: px / 2 }));
    if (s.grad) side.append(layerBlock(`G = dL/d ${s.name}: arriving`, s.grad, { mode: "sqrt", px }));
    else side.append(el("p", { class: "muted", text: "no gradient reaches this stage" }));
    for (const n of s.inputs || []) {   // what this op passes back to each of its inputs
      const back = backwardOf(n);
      if (back && back.grad) side.append(layerBlock(`dL/d ${n}: passed back`, back.grad, { mode: "sqrt", px }));
    }
    d.append(side);
    yoursBlock(d, i, "grad", px);
    const params = el("div", { class: "params" });
    for (const p of s.params) params.append(paramBlock(p));
    d.append(params);
  }
}

// with `minicnn lab --kernels DIR`: the same step computed on the learner's kernels, and how far it is from minicnn's
function yoursBlock(d, i, key, px) {
  const yours = bpRun && bpRun.yours;
  if (!yours || !yours.steps.length) return;
  const t = yours.steps[i];
  const box = el("div", { class: `yours ${t.difference > 1e-4 ? "wrong" : "same"}` },
    el("p", { class: "small", text: `your kernels: relative difference from minicnn's ${t.difference.toPrecision(2)}` +
      (t.params.length ? `; parameter gradients ${t.params.map((p) => `${p.name} ${p.difference.toPrecision(2)}`).join(", ")}` : "") }));
  if (t[key]) box.append(layerBlock(`yours: ${key === "grad" ? "G = dL/d " : ""}${bpSteps[i].name}`, t[key],
    { mode: key === "grad" ? "sqrt" : undefined, px }));
  d.append(box);
}

function forwardOf(name) { return bpSteps.find((t) => t.phase === "forward" && t.name === name && t.values); }
function backwardOf(name) { return bpSteps.find((t) => t.phase === "backward" && t.name === name); }

function paramBlock(p) {
  const box = el("div", { class: "param" }, el("div", { class: "layer-title" },
    `dL/d ${p.name} `, el("span", { text: `(${p.shape.join("×")}), norm ${p.norm.toExponential(3)}` })));
  if (!p.values) { box.append(el("p", { class: "muted small", text: "too large to draw; its norm is above" })); return box; }
  const a = decode(p.values), hi = absMax(a);
  const grid = el("div", { class: "maps" });
  if (a.shape.length === 4) {   // a conv weight's gradient: each filter's first input channel
    const [O, C, KH, KW] = a.shape;
    for (let o = 0; o < O; o++) {
      grid.append(mapCanvas(a.data, o * C * KH * KW, KH, KW, hi, "sqrt", 10, `dL/d ${p.name}[${o}, 0] `));
    }
    if (C > 1) box.append(el("p", { class: "muted small", text: "input channel 0 of each filter" }));
  } else if (a.shape.length === 2) {
    const [R, Cn] = a.shape;
    const room = Math.min(640, window.innerWidth - 60);   // the whole matrix in the window's width
    grid.append(mapCanvas(a.data, 0, R, Cn, hi, "sqrt", Math.max(1, Math.floor(room / Cn)), `dL/d ${p.name}`));
  } else {
    grid.append(vectorCanvas(a.data, hi, "sqrt", `dL/d ${p.name}`));
  }
  box.firstChild.append(" ", scaleLegend("sqrt", hi));
  box.append(grid);
  return box;
}

// ------------------------------------------------------------------ start
async function updateInfo() {
  try {
    const info = await api("/api/info");
    $("model-info").textContent = info.weights ? `Draw and Backprop use ${info.weights}` : "no model yet";
    $("no-model").hidden = info.has_model;
    return info;
  } catch (e) { showError(e.message); return null; }
}

(async function init() {
  clearPad();
  const info = await updateInfo();
  if (!info) return;
  const fill = (name, choices, value) => {
    const s = form.elements[name];
    s.replaceChildren(...choices.map((c) => el("option", { value: c, text: c })));
    s.value = value;
  };
  fill("model", info.models, info.defaults.model);
  fill("optimizer", info.optimizers, info.defaults.optimizer);
  drawChart();
  if (info.training) pollTraining();
  document.body.dataset.ready = "1";
})();
