// neurona playground: the page. It draws what the server's neurona models compute and sends the
// user's changes back; all training happens in the server (see neurona/playground/session.py).
"use strict";

(function () {
  const DOMAIN = 6;
  const CLASS_RGB = [[245, 147, 34], [8, 119, 189], [44, 160, 44], [148, 103, 189], [214, 39, 40], [23, 190, 207]];
  const NEG = [245, 147, 34], MID = [232, 234, 235], POS = [8, 119, 189];
  const FEATURES = {x1: "X\u2081", x2: "X\u2082", x1sq: "X\u2081\u00b2", x2sq: "X\u2082\u00b2", x1x2: "X\u2081X\u2082",
    sinx1: "sin(X\u2081)", sinx2: "sin(X\u2082)"};
  const FEATURE_FN = {
    x1: (x, y) => x / DOMAIN, x2: (x, y) => y / DOMAIN, x1sq: (x, y) => x * x / 36, x2sq: (x, y) => y * y / 36,
    x1x2: (x, y) => x * y / 36, sinx1: (x, y) => Math.sin(x), sinx2: (x, y) => Math.sin(y)};
  const HIST_COLS = 120;
  const SUGGESTED_LR = {sgd: 0.03, momentum: 0.03, nesterov: 0.03, adagrad: 0.03, rmsprop: 0.003, adadelta: 1,
    adam: 0.003, adamax: 0.003, nadam: 0.003};
  const OPTIMIZER_NOTES = {
    sgd: "SGD: \u03b8 \u2190 \u03b8 \u2212 \u03c1 \u2207q",
    momentum: "Momentum: v \u2190 \u03bc v + \u2207q,  \u03b8 \u2190 \u03b8 \u2212 \u03c1 v",
    nesterov: "Nesterov: v \u2190 \u03bc v + \u2207q,  \u03b8 \u2190 \u03b8 \u2212 \u03c1 (\u2207q + \u03bc v)",
    adagrad: "AdaGrad: G \u2190 G + \u2207q\u00b2,  \u03b8 \u2190 \u03b8 \u2212 \u03c1 \u2207q / (\u221aG + \u03b5)",
    rmsprop: "RMSProp: E \u2190 \u03b1 E + (1 \u2212 \u03b1) \u2207q\u00b2,  \u03b8 \u2190 \u03b8 \u2212 \u03c1 \u2207q / (\u221aE + \u03b5)",
    adadelta: "Adadelta: E \u2190 \u03c1E + (1\u2212\u03c1)\u2207q\u00b2,  \u0394 = \u221a(D + \u03b5)/\u221a(E + \u03b5) \u2207q,  D \u2190 \u03c1D + (1\u2212\u03c1)\u0394\u00b2,  \u03b8 \u2190 \u03b8 \u2212 \u03c1 \u0394",
    adam: "Adam: m \u2190 \u03b2\u2081m + (1\u2212\u03b2\u2081)\u2207q,  s \u2190 \u03b2\u2082s + (1\u2212\u03b2\u2082)\u2207q\u00b2,  \u03b8 \u2190 \u03b8 \u2212 \u03c1 m\u0302 / (\u221as\u0302 + \u03b5)",
    adamax: "AdaMax: m \u2190 \u03b2\u2081m + (1\u2212\u03b2\u2081)\u2207q,  u \u2190 max(\u03b2\u2082u, |\u2207q|),  \u03b8 \u2190 \u03b8 \u2212 \u03c1 m\u0302 / (u + \u03b5)",
    nadam: "Nadam: Adam with Nesterov's look-ahead on the first moment"};

  const $ = (id) => document.getElementById(id);
  const S = {
    ws: null, sid: null, limits: null, config: null, compareConfig: null, data: null, frame: null, pending: null,
    drawScheduled: false, playing: false, compare: false, clickClass: 1, showTest: false, discretize: false,
    draws: [], hist: {gen: -1, layers: 0, cols: []}, networkKey: "", nodes: null, urlPending: null, closed: false,
    messageTimer: null, lastHistSteps: -1, autoplay: false,
  };

  // --- colours -------------------------------------------------------------------------
  function mix(a, b, t) { return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]; }
  function diverging(v) {
    v = Math.max(-1, Math.min(1, v));
    return v < 0 ? mix(MID, NEG, -v) : mix(MID, POS, v);
  }
  const LUT = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) { const c = diverging(i / 127.5 - 1); LUT.set([c[0], c[1], c[2]], i * 3); }
  function rgb(c, a) { return a === undefined ? `rgb(${c[0] | 0},${c[1] | 0},${c[2] | 0})` : `rgba(${c[0] | 0},${c[1] | 0},${c[2] | 0},${a})`; }
  function classColor(k) { return CLASS_RGB[k % CLASS_RGB.length]; }
  function decode(b64) {
    const s = atob(b64), out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return "\u2013";
    if (v !== 0 && Math.abs(v) < 0.001) return v.toExponential(2);
    return v.toFixed(digits === undefined ? 3 : digits);
  }
  function sig(v) {
    if (v === null || v === undefined || !isFinite(v)) return "\u2013";
    if (v === 0) return "0";
    return Math.abs(v) < 0.001 || Math.abs(v) >= 1e4 ? v.toExponential(2) : v.toPrecision(3);
  }

  // --- messages ------------------------------------------------------------------------
  function showMessage(text, kind) {
    const box = $("message");
    box.textContent = text;
    box.className = kind === "notice" ? "notice" : "error";
    box.hidden = false;
    clearTimeout(S.messageTimer);
    if (kind !== "fatal") S.messageTimer = setTimeout(() => { box.hidden = true; }, kind === "notice" ? 6000 : 12000);
  }

  // --- the connection ------------------------------------------------------------------
  function send(msg) {
    if (!S.ws || S.ws.readyState !== WebSocket.OPEN) {
      showMessage("not connected to the playground server; reload the page", "error");
      return false;
    }
    S.ws.send(JSON.stringify(msg));
    return true;
  }
  function sendConfig(changes) { send({type: "config", config: changes}); }

  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    S.ws = ws;
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      const handler = HANDLERS[msg.type];
      if (handler) handler(msg);
    };
    ws.onclose = () => {
      S.closed = true;
      showMessage("the connection to the playground server is closed (was it stopped?); reload the page to start again", "fatal");
      setPlaying(false);
    };
  }

  const HANDLERS = {
    hello(msg) {
      S.sid = msg.session;
      S.limits = msg.limits;
      $("download-model").href = `/api/model?session=${encodeURIComponent(S.sid)}&run=A`;
      $("download-code").href = `/api/code?session=${encodeURIComponent(S.sid)}&run=A`;
      const fromUrl = parseHash();
      S.urlPending = Object.keys(fromUrl).length ? fromUrl : null;
      send({type: "hello"});
      if (S.urlPending) sendConfig(S.urlPending);
      else if (S.autoplay) { S.autoplay = false; send({type: "play"}); }
    },
    config(msg) {
      S.config = msg.config;
      S.compareConfig = msg.compare || null;
      S.urlPending = null;
      showConfig();
      writeHash();
      if (S.autoplay) { S.autoplay = false; send({type: "play"}); }
    },
    data(msg) { S.data = msg; showData(); if (S.config) buildNetwork(); drawAll(); },
    state(msg) { setPlaying(msg.playing); setCompare(msg.compare); },
    frame(msg) {
      S.pending = msg;
      if (msg.playing !== S.playing) setPlaying(msg.playing);
      if (!S.drawScheduled) { S.drawScheduled = true; requestAnimationFrame(drawPending); }
    },
    notice(msg) { showMessage(msg.message, "notice"); },
    error(msg) {
      if (msg.request === "config" && S.urlPending && msg.key && msg.key in S.urlPending) {
        // a setting in the address that the server refuses: say so and apply the others
        showMessage(`the address holds a setting that was not applied: ${msg.message}`, "error");
        delete S.urlPending[msg.key];
        if (Object.keys(S.urlPending).length) sendConfig(S.urlPending); else S.urlPending = null;
        return;
      }
      showMessage(msg.message, msg.fatal ? "fatal" : "error");
      if (S.config) showConfig();  // put the controls back to the settings in force
    },
  };

  // --- the URL holds the settings ---------------------------------------------------------
  function writeHash() {
    const c = S.config, parts = [];
    for (const k of Object.keys(c)) {
      const v = c[k];
      parts.push(`${k}=${encodeURIComponent(Array.isArray(v) ? v.join(",") : String(v))}`);
    }
    const hash = "#" + parts.join("&");
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }
  function parseHash() {
    const out = {};
    const h = location.hash.replace(/^#/, "");
    if (!h) return out;
    for (const part of h.split("&")) {
      const i = part.indexOf("=");
      if (i < 0) continue;
      const k = decodeURIComponent(part.slice(0, i)), raw = decodeURIComponent(part.slice(i + 1));
      if (k === "features") out[k] = raw ? raw.split(",") : [];
      else if (k === "hidden") out[k] = raw ? raw.split(",").map(Number) : [];
      else if (raw === "true" || raw === "false") out[k] = raw === "true";
      else if (raw !== "" && !isNaN(Number(raw))) out[k] = Number(raw);
      else out[k] = raw;
    }
    if (out.dataset === "custom") delete out.dataset;  // one's own points are not in the address
    if ("play" in out) {  // a link that starts training (neurona playground --data spiral)
      S.autoplay = out.play === true;
      delete out.play;
    }
    return out;
  }

  // --- controls ---------------------------------------------------------------------------
  function valueOf(el) {
    if (el.type === "checkbox") return el.checked;
    const t = el.dataset.type;
    if (t === "int") return parseInt(el.value, 10);
    if (t === "number") return parseFloat(el.value);
    return el.value;
  }
  function setControl(el, v) {
    if (el.type === "checkbox") { el.checked = !!v; return; }
    if (el.tagName === "SELECT" && el.dataset.type === "number") {
      let found = false;
      for (const o of el.options) if (parseFloat(o.value) === v) { el.value = o.value; found = true; }
      if (!found) { const o = document.createElement("option"); o.textContent = String(v); el.appendChild(o); el.value = o.value; }
      return;
    }
    el.value = String(v);
    const out = $(el.id + "-out");
    if (out) out.textContent = String(v);
  }
  function bindControls() {
    for (const el of document.querySelectorAll("[data-key]")) {
      const ev = el.type === "range" ? "input" : "change";
      el.addEventListener(ev, () => {
        const out = $(el.id + "-out");
        if (out) out.textContent = el.value;
        if (el.type === "range") return;
        onSetting(el.dataset.key, valueOf(el));
      });
      if (el.type === "range") el.addEventListener("change", () => onSetting(el.dataset.key, valueOf(el)));
    }
  }
  function onSetting(key, value) {
    const changes = {[key]: value};
    if (key === "problem") changes.dataset = value === "regression" ? "plane" : "circle";
    if (key === "dataset" && value !== "custom") {
      changes.problem = ["plane", "multigauss"].includes(value) ? "regression" : "classification";
    }
    if (changes.problem === "regression" || value === "regression") changes.loss = "squared_error";
    else if (S.config && S.config.problem === "regression" && (changes.problem || value) === "classification") {
      changes.loss = "cross_entropy";  // back from a regression: the usual loss for classes
    }
    if (key === "optimizer" && SUGGESTED_LR[value] !== undefined && S.config && S.config.lr !== SUGGESTED_LR[value]) {
      changes.lr = SUGGESTED_LR[value];
      showMessage(`learning rate set to ${changes.lr}, a usual start for ${value}`, "notice");
    }
    sendConfig(changes);
  }
  function showConfig() {
    const c = S.config;
    for (const el of document.querySelectorAll("[data-key]")) {
      const k = el.dataset.key;
      if (k in c) setControl(el, c[k]);
    }
    const regression = c.problem === "regression", custom = c.dataset === "custom";
    $("classes-row").hidden = regression;
    $("loss").disabled = regression;
    for (const id of ["classes", "noise", "points", "regenerate"]) $(id).disabled = custom;
    for (const el of document.querySelectorAll(".hyper")) el.hidden = !el.dataset.for.split(" ").includes(c.optimizer);
    $("patience").disabled = !c.early_stopping;
    $("clip_value").disabled = c.clip === "none";
    $("optimizer-note").textContent = OPTIMIZER_NOTES[c.optimizer] || "";
    $("layer-count").textContent = `${c.hidden.length} hidden layer${c.hidden.length === 1 ? "" : "s"}`;
    $("add-layer").disabled = S.limits && c.hidden.length >= S.limits.max_hidden_layers;
    $("remove-layer").disabled = c.hidden.length === 0;
    if (S.compareConfig) $("caption-b").textContent = "B: " + describeDiff(S.compareConfig, c);
    buildSwatches();
    buildNetwork();
  }
  function describeDiff(b, a) {
    const keys = ["features", "hidden", "activation", "init", "dropout", "batch_norm", "residual", "loss", "optimizer",
      "lr", "batch", "regularization", "reg_rate", "clip", "early_stopping"];
    const diff = keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
      .map((k) => `${k} ${Array.isArray(b[k]) ? b[k].join("-") : b[k]}`);
    return diff.length ? diff.join(", ") : "the same settings as A";
  }

  // --- buttons ---------------------------------------------------------------------------
  function setPlaying(p) {
    S.playing = p;
    const b = $("play");
    $("icon-play").toggleAttribute("hidden", p);
    $("icon-pause").toggleAttribute("hidden", !p);
    b.classList.toggle("playing", p);
    b.setAttribute("aria-label", p ? "pause" : "play");
  }
  function setCompare(on) {
    S.compare = on;
    $("compare").setAttribute("aria-pressed", on ? "true" : "false");
    $("compare").textContent = on ? "Stop comparing" : "Compare with these settings";
    $("figure-b").hidden = !on;
    $("caption-a").hidden = !on;
    document.querySelector(".boundaries").classList.toggle("two", on);
    if (!on) S.compareConfig = null;
  }
  function bindButtons() {
    $("play").addEventListener("click", () => send({type: S.playing ? "pause" : "play"}));
    $("step").addEventListener("click", () => send({type: "step"}));
    $("reset").addEventListener("click", () => send({type: "reset"}));
    $("regenerate").addEventListener("click", () => send({type: "regenerate"}));
    $("add-layer").addEventListener("click", () => {
      const h = S.config.hidden.slice();
      if (S.limits && h.length >= S.limits.max_hidden_layers) {
        showMessage(`at most ${S.limits.max_hidden_layers} hidden layers`, "error");
        return;
      }
      h.push(h.length ? h[h.length - 1] : 4);
      sendConfig({hidden: h});
    });
    $("remove-layer").addEventListener("click", () => {
      const h = S.config.hidden.slice();
      if (!h.length) return;
      h.pop();
      sendConfig({hidden: h});
    });
    $("compare").addEventListener("click", () => send({type: "compare", on: !S.compare}));
    $("clear-points").addEventListener("click", () => send({type: "clear_points"}));
    $("show-test").addEventListener("change", (e) => { S.showTest = e.target.checked; drawAll(); });
    $("discretize").addEventListener("change", (e) => { S.discretize = e.target.checked; drawAll(); });
    $("click-mode").addEventListener("change", () => {
      const add = $("click-mode").value === "add";
      $("click-class-row").hidden = !add;
      if (add) send({type: "inspect", clear: true});
    });
    $("click-class-row").hidden = true;
    $("upload").addEventListener("change", onUpload);
    for (const id of ["boundary", "boundary-b"]) $(id).addEventListener("click", onMapClick);
    for (const id of ["download-model", "download-code"]) {
      $(id).addEventListener("click", (e) => { if (!S.sid) { e.preventDefault(); showMessage("not connected yet", "error"); } });
    }
  }
  function onUpload(e) {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    const limit = S.limits ? S.limits.max_upload_bytes : 1 << 20;
    if (file.size > limit) {
      showMessage(`${file.name} is ${file.size.toLocaleString()} bytes; the limit is ${limit.toLocaleString()}`, "error");
      return;
    }
    const reader = new FileReader();
    reader.onload = () => send({type: "upload", name: file.name, text: String(reader.result)});
    reader.onerror = () => showMessage(`cannot read ${file.name}`, "error");
    reader.readAsText(file);
  }
  function onMapClick(e) {
    const c = e.currentTarget, r = c.getBoundingClientRect();
    const x = ((e.clientX - r.left) / r.width) * 2 * DOMAIN - DOMAIN;
    const y = DOMAIN - ((e.clientY - r.top) / r.height) * 2 * DOMAIN;
    const px = Math.max(-DOMAIN, Math.min(DOMAIN, x)), py = Math.max(-DOMAIN, Math.min(DOMAIN, y));
    if ($("click-mode").value === "add") {
      const regression = S.config && S.config.problem === "regression";
      const label = regression ? Math.max(-1, Math.min(1, parseFloat($("click-value").value) || 0)) : S.clickClass;
      send({type: "add_point", x: px, y: py, label: label});
    } else {
      send({type: "inspect", x: px, y: py});
    }
  }
  function buildSwatches() {
    const box = $("click-class"), c = S.config;
    const regression = c.problem === "regression";
    $("click-value").hidden = !regression;
    box.hidden = regression;
    $("click-class-label").textContent = regression ? "of value (\u22121 to 1)" : "of class";
    const n = S.data && S.data.task === "classification" ? S.data.classes : c.classes;
    if (box.childElementCount === n && !regression) return;
    box.textContent = "";
    if (S.clickClass >= n) S.clickClass = 0;
    for (let k = 0; k < n; k++) {
      const b = document.createElement("button");
      b.type = "button";
      b.setAttribute("data-testid", `class-${k}`);
      b.title = `class ${S.data && S.data.class_names[k] !== undefined ? S.data.class_names[k] : k}`;
      b.style.background = rgb(classColor(k));
      b.classList.toggle("chosen", k === S.clickClass);
      b.addEventListener("click", () => {
        S.clickClass = k;
        for (const o of box.children) o.classList.toggle("chosen", o === b);
      });
      box.appendChild(b);
    }
  }

  // --- data -------------------------------------------------------------------------------
  function showData() {
    const d = S.data;
    $("point-count").textContent = String(d.points.length);
    $("train-count").textContent = String(d.train);
    $("test-count").textContent = String(d.test);
    const legend = $("legend");
    legend.textContent = "";
    if (d.task === "classification") {
      for (let k = 0; k < d.classes; k++) {
        const s = document.createElement("span");
        const i = document.createElement("i");
        i.style.background = rgb(classColor(k));
        s.appendChild(i);
        s.appendChild(document.createTextNode(`class ${d.class_names[k]}`));
        legend.appendChild(s);
      }
    } else {
      legend.textContent = "colour: the value, orange \u22121 \u2026 blue +1";
    }
    $("acc-row").hidden = d.task !== "classification";
    buildSwatches();
  }

  // --- drawing a frame ------------------------------------------------------------------------
  function drawPending() {
    S.drawScheduled = false;
    const f = S.pending;
    if (!f) return;
    S.pending = null;
    S.frame = f;
    drawAll();
    const now = performance.now();
    S.draws.push(now);
    while (S.draws.length && S.draws[0] < now - 1000) S.draws.shift();
    if (f.seq) send({type: "ack", seq: f.seq});
  }
  function drawAll() {
    const f = S.frame;
    if (!f || !S.config) return;
    const a = f.runs[0];
    $("epoch").textContent = String(a.epoch);
    $("train-loss").textContent = fmt(a.train_loss);
    $("test-loss").textContent = fmt(a.test_loss);
    $("test-acc").textContent = a.test_accuracy === null ? "\u2013" : fmt(a.test_accuracy);
    $("sps").textContent = String(Math.round(f.steps_per_second));
    drawBoundary($("boundary"), a);
    const b = f.runs[1];
    if (b) {
      drawBoundary($("boundary-b"), b);
      $("caption-a").textContent = `A: current settings \u2014 test loss ${fmt(a.test_loss)}`;
      $("caption-b").textContent = `B: ${describeDiff(b.config, a.config)} \u2014 test loss ${fmt(b.test_loss)}`;
    }
    drawChart(f.runs);
    drawNetwork(a);
    drawHistograms(a.histograms);
    drawInspect(a.inspect);
  }
  function boundaryImage(run) {
    const bd = run.boundary, n = bd.n;
    const img = new ImageData(n, n);
    const px = img.data;
    if (bd.kind === "classes") {
      const cls = decode(bd.cls), conf = decode(bd.conf);
      for (let i = 0; i < n * n; i++) {
        const t = S.discretize ? 0.55 : 0.12 + 0.6 * (conf[i] / 255);
        const c = mix([255, 255, 255], classColor(cls[i]), t);
        px[4 * i] = c[0]; px[4 * i + 1] = c[1]; px[4 * i + 2] = c[2]; px[4 * i + 3] = 255;
      }
    } else {
      const v = decode(bd.value);
      for (let i = 0; i < n * n; i++) {
        let k = v[i];
        if (S.discretize) k = k < 128 ? 0 : 255;
        const c = mix([255, 255, 255], [LUT[3 * k], LUT[3 * k + 1], LUT[3 * k + 2]], 0.75);
        px[4 * i] = c[0]; px[4 * i + 1] = c[1]; px[4 * i + 2] = c[2]; px[4 * i + 3] = 255;
      }
    }
    return img;
  }
  const scratch = document.createElement("canvas");
  function drawBoundary(canvas, run) {
    const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
    const img = boundaryImage(run);
    scratch.width = img.width; scratch.height = img.height;
    scratch.getContext("2d").putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = !S.discretize;
    ctx.drawImage(scratch, 0, 0, W, H);
    drawAxes(ctx, W, H);
    drawPoints(ctx, W, H, run);
  }
  function drawAxes(ctx, W, H) {
    ctx.strokeStyle = "rgba(0,0,0,0.12)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(W / 2, 0); ctx.lineTo(W / 2, H); ctx.moveTo(0, H / 2); ctx.lineTo(W, H / 2);
    ctx.stroke();
    ctx.fillStyle = "rgba(0,0,0,0.45)";
    ctx.font = "10px sans-serif";
    ctx.fillText("-6", 2, H / 2 - 3); ctx.fillText("6", W - 9, H / 2 - 3);
    ctx.fillText("6", W / 2 + 3, 10); ctx.fillText("-6", W / 2 + 3, H - 3);
  }
  function drawPoints(ctx, W, H, run) {
    const d = S.data;
    if (!d) return;
    const r = Math.max(2.5, W / 110);
    const classes = d.task === "classification";
    for (const p of d.points) {
      const train = p[3];
      if (!train && !S.showTest) continue;
      const x = (p[0] + DOMAIN) / (2 * DOMAIN) * W, y = (DOMAIN - p[1]) / (2 * DOMAIN) * H;
      ctx.beginPath();
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fillStyle = rgb(classes ? classColor(p[2]) : diverging(p[2]));
      ctx.fill();
      ctx.lineWidth = train ? 1 : 1.6;
      ctx.strokeStyle = train ? "#fff" : "#222";
      ctx.stroke();
    }
    const ins = run && run.inspect;
    if (ins) {
      const x = (ins.x + DOMAIN) / (2 * DOMAIN) * W, y = (DOMAIN - ins.y) / (2 * DOMAIN) * H;
      ctx.beginPath();
      ctx.arc(x, y, r + 5, 0, 2 * Math.PI);
      ctx.lineWidth = 2.5;
      ctx.strokeStyle = "#111";
      ctx.stroke();
    }
  }
  function drawChart(runs) {
    const c = $("loss-chart"), ctx = c.getContext("2d"), W = c.width, H = c.height;
    ctx.clearRect(0, 0, W, H);
    let maxE = 1, maxL = 1e-9;
    for (const r of runs) for (const [e, tr, te] of r.curve) {
      maxE = Math.max(maxE, e);
      if (tr !== null) maxL = Math.max(maxL, tr);
      if (te !== null) maxL = Math.max(maxL, te);
    }
    const pad = 4, bottom = H - 14;
    const X = (e) => pad + (e / maxE) * (W - 2 * pad), Y = (v) => bottom - (v / maxL) * (bottom - 14);
    ctx.strokeStyle = "#e3e7ea"; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(pad, bottom + 0.5); ctx.lineTo(W - pad, bottom + 0.5); ctx.stroke();
    runs.forEach((r, i) => {
      ctx.setLineDash(i === 0 ? [] : [5, 3]);
      for (const [idx, color] of [[1, "#9aa5ad"], [2, "#111"]]) {
        ctx.strokeStyle = color; ctx.lineWidth = idx === 2 ? 1.6 : 1.2;
        ctx.beginPath();
        let started = false;
        for (const pt of r.curve) {
          if (pt[idx] === null) continue;
          const x = X(pt[0]), y = Y(pt[idx]);
          if (!started) { ctx.moveTo(x, y); started = true; } else ctx.lineTo(x, y);
        }
        ctx.stroke();
      }
    });
    ctx.setLineDash([]);
    ctx.fillStyle = "#66737d"; ctx.font = "10px sans-serif";
    ctx.fillText(`test (black) and training (grey) loss${runs.length > 1 ? "; B dashed" : ""}; max ${sig(maxL)}`, pad, 10);
    ctx.fillText(`epoch ${maxE}`, W - 60, H - 2);
  }

  // --- the network diagram -------------------------------------------------------------------------
  function layout(c) {
    // node size and column spacing that fit the column: smaller nodes for wide or deep networks
    const widths = [c.features.length, ...c.hidden, S.data && S.data.task === "regression" ? 1 : (S.data ? S.data.classes : c.classes)];
    const maxN = Math.max(Object.keys(FEATURES).length, ...widths);
    const cols = c.hidden.length + 2;
    let size = maxN <= 8 ? 40 : maxN <= 16 ? 28 : 20;
    if (cols > 7) size = Math.min(size, 30);
    const gap = size >= 40 ? 24 : size >= 28 ? 16 : 10;
    const x0 = 70, avail = Math.max(300, $("network").clientWidth || 560);
    const colW = Math.max(size + 20, Math.min(120, (avail - x0 - size - 4) / (cols - 1)));
    // the chosen point's values fit under a node only when there is room for them
    return {size, step: size + gap, colW, x0, y0: 46, values: size >= 40 && colW >= 90};
  }
  function buildNetwork() {
    const c = S.config;
    const key = JSON.stringify([c.features, c.hidden, c.problem, S.data && S.data.classes]);
    if (key === S.networkKey) return;
    S.networkKey = key;
    const net = $("network");
    for (const el of Array.from(net.children)) if (el.id !== "links") el.remove();
    const L = layout(c);
    const nodes = {features: [], hidden: [], output: []};
    // features: all of them, the chosen ones lit; a click switches one on or off
    Object.keys(FEATURES).forEach((f, j) => {
      const on = c.features.includes(f);
      const node = makeNode(L, 0, j, `feature-${f}`, "feature" + (on ? "" : " off"));
      const lab = document.createElement("span");
      lab.className = "label"; lab.textContent = FEATURES[f];
      node.el.appendChild(lab);
      paintFeature(node.canvas, f);
      node.el.title = on ? `${FEATURES[f]}: click to leave it out` : `${FEATURES[f]}: click to use it`;
      node.el.setAttribute("aria-pressed", on ? "true" : "false");
      node.el.addEventListener("click", () => {
        const now = Object.keys(FEATURES).filter((g) => (g === f ? !on : c.features.includes(g)));
        if (!now.length) { showMessage("the network needs at least one input feature", "error"); return; }
        sendConfig({features: now});
      });
      node.feature = f;
      node.on = on;
      hover(node, () => `${FEATURES[f]}` + (on ? "" : " (not used)"));
      nodes.features.push(node);
    });
    c.hidden.forEach((n, l) => {
      const head = document.createElement("div");
      head.className = "layer-head";
      head.style.left = `${L.x0 + (l + 1) * L.colW + L.size / 2 - 35}px`;
      head.style.top = "0px";
      const buttons = document.createElement("div");
      buttons.className = "buttons";
      const plus = button("+", `add-neuron-${l}`, "add a neuron", () => {
        const h = S.config.hidden.slice();
        if (S.limits && h[l] >= S.limits.max_neurons) { showMessage(`at most ${S.limits.max_neurons} neurons per layer`, "error"); return; }
        h[l] += 1; sendConfig({hidden: h});
      });
      const minus = button("\u2212", `remove-neuron-${l}`, "remove a neuron", () => {
        const h = S.config.hidden.slice();
        if (h[l] <= 1) { showMessage("a layer keeps at least one neuron (remove the layer instead)", "error"); return; }
        h[l] -= 1; sendConfig({hidden: h});
      });
      buttons.append(plus, minus);
      head.appendChild(buttons);
      head.appendChild(document.createTextNode(`${n} neuron${n === 1 ? "" : "s"}`));
      net.appendChild(head);
      const col = [];
      for (let j = 0; j < n; j++) {
        const node = makeNode(L, l + 1, j, `neuron-${l}-${j}`, "neuron");
        hover(node, () => neuronText(l, j));
        col.push(node);
      }
      nodes.hidden.push(col);
    });
    const outN = S.data && S.data.task === "regression" ? 1 : (S.data ? S.data.classes : c.classes);
    for (let j = 0; j < outN; j++) {
      const node = makeNode(L, c.hidden.length + 1, j, `output-${j}`, "output");
      const ctx = node.canvas.getContext("2d");
      ctx.fillStyle = rgb(S.data && S.data.task === "regression" ? POS : classColor(j));
      ctx.fillRect(0, 0, 32, 32);
      hover(node, () => `output ${j}` + (S.data && S.data.task === "classification" ? ` (class ${S.data.class_names[j]}): its softmax is the probability of the class` : ""));
      nodes.output.push(node);
    }
    const cols = c.hidden.length + 2;
    const rows = Math.max(Object.keys(FEATURES).length, ...c.hidden, outN);
    const canvas = $("links");
    const w = L.x0 + cols * L.colW, h = L.y0 + rows * L.step + 50, ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio);
    canvas.style.width = `${w}px`; canvas.style.height = `${h}px`;
    net.style.height = `${h}px`;
    S.nodes = {L, nodes};
    if (S.frame) drawNetwork(S.frame.runs[0]);
  }
  function button(text, testid, title, fn) {
    const b = document.createElement("button");
    b.className = "round small"; b.textContent = text; b.title = title;
    b.setAttribute("data-testid", testid);
    b.addEventListener("click", fn);
    return b;
  }
  function makeNode(L, col, row, testid, cls) {
    const el = document.createElement("div");
    el.className = "node " + cls;
    el.style.left = `${L.x0 + col * L.colW}px`;
    el.style.top = `${L.y0 + row * L.step}px`;
    el.style.width = el.style.height = `${L.size}px`;
    el.setAttribute("data-testid", testid);
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 32;
    canvas.style.width = canvas.style.height = `${L.size}px`;
    el.appendChild(canvas);
    const vals = document.createElement("div");
    vals.className = "vals";
    el.appendChild(vals);
    $("network").appendChild(el);
    return {el, canvas, vals, x: L.x0 + col * L.colW, y: L.y0 + row * L.step};
  }
  function paintFeature(canvas, f) {
    const n = 32, img = new ImageData(n, n), fn = FEATURE_FN[f];
    for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) {
      const x = -DOMAIN + (c + 0.5) * (2 * DOMAIN / n), y = DOMAIN - (r + 0.5) * (2 * DOMAIN / n);
      const col = diverging(fn(x, y)), i = 4 * (r * n + c);
      img.data[i] = col[0]; img.data[i + 1] = col[1]; img.data[i + 2] = col[2]; img.data[i + 3] = 255;
    }
    canvas.getContext("2d").putImageData(img, 0, 0);
  }
  function hover(node, text) {
    const card = $("hover-card");
    node.el.addEventListener("mouseenter", (e) => {
      const big = $("hover-canvas");
      big.width = big.height = 32;
      const ctx = big.getContext("2d");
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(node.canvas, 0, 0);
      $("hover-text").textContent = text();
      card.hidden = false;
      place(e);
    });
    node.el.addEventListener("mousemove", place);
    node.el.addEventListener("mouseleave", () => { card.hidden = true; });
    function place(e) {
      card.style.left = `${Math.min(e.clientX + 16, window.innerWidth - 230)}px`;
      card.style.top = `${Math.min(e.clientY + 16, window.innerHeight - 260)}px`;
    }
  }
  function neuronText(l, j) {
    const a = S.frame && S.frame.runs[0];
    let t = `layer ${l + 1}, neuron ${j + 1}: s = g(\u03c6), over the map`;
    const nn = a && a.neurons[l] && a.neurons[l][j];
    if (nn && nn.scale > 1) t += ` (colours scaled by ${sig(nn.scale)})`;
    const ins = a && a.inspect;
    if (ins) {
      const L = ins.layers[l];
      t += ` \u2014 at the chosen point \u03c6 = ${sig(L.phi[j])}, s = ${sig(L.s[j])}, \u03b4 = ${sig(L.delta[j])}`;
    }
    return t;
  }
  function drawNetwork(run) {
    if (!S.nodes || !run) return;
    const {L, nodes} = S.nodes;
    // each neuron's own output over the map
    run.neurons.forEach((layer, l) => layer.forEach((nn, j) => {
      const node = nodes.hidden[l] && nodes.hidden[l][j];
      if (!node) return;
      const bytes = decode(nn.img), n = 32, img = new ImageData(n, n);
      for (let i = 0; i < n * n; i++) {
        const k = bytes[i];
        img.data[4 * i] = LUT[3 * k]; img.data[4 * i + 1] = LUT[3 * k + 1]; img.data[4 * i + 2] = LUT[3 * k + 2]; img.data[4 * i + 3] = 255;
      }
      node.canvas.getContext("2d").putImageData(img, 0, 0);
    }));
    drawLinks(run, L, nodes);
    // forward values and deltas of the chosen point, on the nodes
    const ins = run.inspect;
    const on = nodes.features.filter((n) => n.on);
    on.forEach((n, j) => { n.vals.textContent = ins && L.values ? `s ${sig(ins.inputs[j])}` : ""; });
    nodes.features.filter((n) => !n.on).forEach((n) => { n.vals.textContent = ""; });
    nodes.hidden.forEach((col, l) => col.forEach((n, j) => {
      n.vals.textContent = ins && L.values ? `s ${sig(ins.layers[l].s[j])}\n\u03b4 ${sig(ins.layers[l].delta[j])}` : "";
      n.vals.style.whiteSpace = "pre";
    }));
    const last = ins && ins.layers[ins.layers.length - 1];
    nodes.output.forEach((n, j) => {
      n.vals.textContent = last && L.values ? `s ${sig(last.s[j])}\n\u03b4 ${sig(last.delta[j])}` : "";
      n.vals.style.whiteSpace = "pre";
    });
  }
  function drawLinks(run, L, nodes) {
    // one canvas for all the links: hundreds of curves redrawn every frame
    const canvas = $("links"), ctx = canvas.getContext("2d"), ratio = canvas.width / parseFloat(canvas.style.width);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const cols = [nodes.features.filter((n) => n.on), ...nodes.hidden, nodes.output];
    const half = L.size / 2;
    ctx.globalAlpha = 0.85;
    for (let l = 0; l + 1 < cols.length; l++) {
      const W = run.weights[l] && run.weights[l].w;
      if (!W) continue;
      cols[l + 1].forEach((dst, i) => cols[l].forEach((src, j) => {
        const w = W[i] && W[i][j] !== undefined ? W[i][j] : 0;
        const x1 = src.x + L.size, y1 = src.y + half, x2 = dst.x, y2 = dst.y + half, mx = (x1 + x2) / 2;
        ctx.beginPath();
        ctx.moveTo(x1, y1);
        ctx.bezierCurveTo(mx, y1, mx, y2, x2, y2);
        ctx.strokeStyle = rgb(diverging(w));
        ctx.lineWidth = Math.max(0.4, Math.min(8, Math.abs(w) * 2.5));
        ctx.stroke();
      }));
    }
    // residual connections: an arc under the columns, f(s) + s
    ctx.globalAlpha = 1;
    ctx.setLineDash([4, 3]);
    ctx.strokeStyle = "#7a5aa8";
    ctx.lineWidth = 2;
    (run.residual || []).forEach((res, l) => {
      const src = cols[l], dst = cols[l + 1];
      if (!res || !src.length || !dst.length) return;
      const x1 = src[0].x + half, x2 = dst[0].x + half;
      const y = Math.max(src[src.length - 1].y, dst[dst.length - 1].y) + L.size + 6;
      ctx.beginPath();
      ctx.moveTo(x1, y);
      ctx.bezierCurveTo(x1, y + 30, x2, y + 30, x2, y);
      ctx.stroke();
    });
    ctx.setLineDash([]);
  }

  // --- inside the network: histograms over time ------------------------------------------------
  function drawHistograms(h) {
    const box = $("histograms");
    if (!h) return;
    const n = h.layers.length;
    if (h.gen !== S.hist.gen || n !== S.hist.layers) {
      S.hist = {gen: h.gen, layers: n, cols: []};
      S.lastHistSteps = -1;
      box.textContent = "";
      for (const t of ["layer", "weights W", "outputs s", "log\u2081\u2080|\u2202q/\u2202W|", "mean |\u2202q/\u2202W|"]) {
        const d = document.createElement("div"); d.className = "head"; d.textContent = t; box.appendChild(d);
      }
      S.hist.rows = h.layers.map((_, l) => {
        const name = document.createElement("div");
        name.textContent = l === n - 1 ? `output (${l + 1})` : `layer ${l + 1}`;
        box.appendChild(name);
        const row = {name};
        for (const k of ["w", "s", "g"]) {
          const c = document.createElement("canvas");
          c.width = HIST_COLS; c.height = 24;
          c.setAttribute("data-testid", `hist-${k}-${l}`);
          box.appendChild(c);
          row[k] = c;
        }
        const bar = document.createElement("div");
        bar.className = "bar";
        const fill = document.createElement("span"), label = document.createElement("em");
        bar.append(fill, label);
        box.appendChild(bar);
        row.fill = fill; row.label = label;
        return row;
      });
    }
    if (h.steps !== S.lastHistSteps) {
      S.lastHistSteps = h.steps;
      S.hist.cols.push(h.layers);
      if (S.hist.cols.length > HIST_COLS) S.hist.cols.shift();
    }
    const cols = S.hist.cols;
    h.layers.forEach((entry, l) => {
      const row = S.hist.rows[l];
      for (const k of ["w", "s", "g"]) {
        const c = row[k], ctx = c.getContext("2d");
        const bins = entry[k] ? entry[k].length : (k === "s" ? 24 : 20);
        if (c.height !== bins) c.height = bins;
        const img = ctx.createImageData(HIST_COLS, bins);
        cols.forEach((col, t) => {
          const e = col[l] && col[l][k];
          if (!e) return;
          for (let b = 0; b < bins; b++) {
            const v = e[b] / 255, y = bins - 1 - b, i = 4 * (y * HIST_COLS + t);
            const c2 = mix([255, 255, 255], [24, 61, 78], Math.sqrt(v));
            img.data[i] = c2[0]; img.data[i + 1] = c2[1]; img.data[i + 2] = c2[2]; img.data[i + 3] = 255;
          }
        });
        ctx.putImageData(img, 0, 0);
        c.title = k === "w" ? `weights, ${h.w_range[0]} (bottom) to ${h.w_range[1]} (top)`
          : k === "s" ? (entry.s ? `outputs s on the training points, ${h.s_range[0]} to ${h.s_range[1]}` + (entry.dead !== undefined ? `; ${entry.dead} dead ReLU` : "") : "the output layer's s is the softmax (see the decision map)")
          : `log10 |gradient|, ${h.g_range[0]} to ${h.g_range[1]}`;
      }
      const g = entry.g_mean;
      if (g === undefined || g === null) { row.fill.style.width = "0"; row.label.textContent = "no step yet"; }
      else {
        const t = Math.max(0, Math.min(1, (Math.log10(Math.max(g, 1e-12)) + 10) / 10));
        row.fill.style.width = `${(t * 160).toFixed(1)}px`;
        row.label.textContent = sig(g);
      }
    });
  }

  // --- the chosen point: forward values and deltas -------------------------------------------------
  function drawInspect(ins) {
    const body = $("inspect-body");
    if (!ins) { body.textContent = ""; $("inspect-help").hidden = false; return; }
    $("inspect-help").hidden = true;
    body.textContent = "";
    const d = S.data;
    const p = document.createElement("p");
    const label = d && d.task === "classification" ? `class ${d.class_names[ins.label]}` : `value ${sig(ins.label)}`;
    p.textContent = `Point (${sig(ins.x)}, ${sig(ins.y)}), ${label}, ${ins.split === "train" ? "training" : "test"} point; its loss q = ${sig(ins.loss)}.`;
    body.appendChild(p);
    const eq = document.createElement("p");
    eq.className = "eq";
    eq.textContent = ins.method === "classic"
      ? "\u03c6\u207d\u02e1\u207e = W\u207d\u02e1\u207e s\u207d\u02e1\u207b\u00b9\u207e + w\u2080\u207d\u02e1\u207e,  s\u207d\u02e1\u207e = g(\u03c6\u207d\u02e1\u207e);   \u03b4\u207d\u1d38\u207e = g\u2032(\u03c6\u207d\u1d38\u207e) \u2299 \u2202q/\u2202s\u207d\u1d38\u207e,   \u03b4\u207d\u02e1\u207e = g\u2032(\u03c6\u207d\u02e1\u207e) \u2299 W\u207d\u02e1\u207a\u00b9\u207e\u1d40 \u03b4\u207d\u02e1\u207a\u00b9\u207e   (neurona.classic.ClassicMLP; \u03b4 = \u2202q/\u2202\u03c6)"
      : "with residual layers s\u207d\u02e1\u207e = g(\u03c6\u207d\u02e1\u207e) + s\u207d\u02e1\u207b\u00b9\u207e:   \u03b4\u207d\u02e1\u207e = g\u2032(\u03c6\u207d\u02e1\u207e) \u2299 e\u207d\u02e1\u207e,   e\u207d\u02e1\u207b\u00b9\u207e = W\u207d\u02e1\u207e\u1d40 \u03b4\u207d\u02e1\u207e + e\u207d\u02e1\u207e (residual),   e = \u2202q/\u2202s";
    body.appendChild(eq);
    const table = document.createElement("table");
    const width = Math.max(ins.inputs.length, ...ins.layers.map((L) => L.s.length));
    const head = document.createElement("tr");
    head.appendChild(th(""));
    for (let j = 0; j < width; j++) head.appendChild(th(`unit ${j + 1}`));
    table.appendChild(head);
    row(table, "s\u207d\u2070\u207e (inputs)", ins.inputs, width);
    ins.layers.forEach((L, l) => {
      const name = l === ins.layers.length - 1 ? `output (${l + 1})` : `layer ${l + 1}`;
      row(table, `\u03c6 ${name}`, L.phi, width);
      row(table, `s ${name}`, L.s, width);
      row(table, `\u03b4 ${name}`, L.delta, width);
    });
    table.setAttribute("data-testid", "deltas");
    body.appendChild(table);
    function th(t) { const e = document.createElement("th"); e.textContent = t; return e; }
    function row(tb, name, values, w) {
      const tr = document.createElement("tr");
      tr.appendChild(th(name));
      for (let j = 0; j < w; j++) {
        const td = document.createElement("td");
        td.textContent = j < values.length ? sig(values[j]) : "";
        tr.appendChild(td);
      }
      tb.appendChild(tr);
    }
  }

  // --- start ------------------------------------------------------------------------------------
  function start() {
    bindControls();
    bindButtons();
    setInterval(() => {
      const now = performance.now();
      while (S.draws.length && S.draws[0] < now - 1000) S.draws.shift();
      $("fps").textContent = String(S.draws.length);
    }, 500);
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { if (S.config) { S.networkKey = ""; buildNetwork(); } }, 200);
    });
    window.addEventListener("hashchange", () => {
      const c = parseHash();
      if (S.config && Object.keys(c).some((k) => JSON.stringify(c[k]) !== JSON.stringify(S.config[k]))) sendConfig(c);
    });
    connect();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
