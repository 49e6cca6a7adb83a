// gansep's MUSHRA page (ITU-R BS.1534-3): renders the test served by `gansep listen serve`.
// Playback uses the Web Audio API: every stimulus of a trial runs in sync through its own
// gain, so switching keeps the position to the sample; a switch fades the old stimulus out
// and then the new one in (5 ms raised-cosine each, no cross-fade), and each pass of the loop
// region fades in at its start and out at its end.
(function () {
  "use strict";

  const FADE = 0.005;        // seconds: raised-cosine fade on switch and loop
  const MIN_LOOP = 0.5;      // seconds: shortest loop region
  const LOOKAHEAD = 0.02;    // seconds between a click and the scheduled change
  const LABELS = "ABCDEFGHIJKL";
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  const headers = token ? { "X-Gansep-Token": token } : {};
  const $ = (id) => document.getElementById(id);

  function raisedCosine(from, to) {
    const n = 64, curve = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      curve[i] = from + (to - from) * (0.5 - 0.5 * Math.cos(Math.PI * i / (n - 1)));
    }
    return curve;
  }
  const FADE_IN = raisedCosine(0, 1), FADE_OUT = raisedCosine(1, 0);

  // ------------------------------------------------------------------ playback
  class Player {
    constructor(context, buffers) {
      this.context = context;
      this.buffers = buffers;                  // {id: AudioBuffer}, all the same length
      this.duration = Object.values(buffers)[0].duration;
      this.master = context.createGain();
      this.master.gain.value = 0;
      this.master.connect(context.destination);
      this.gains = {};
      this.busy = new Map();                   // AudioParam -> end of its last fade
      for (const id of Object.keys(buffers)) {
        const gain = context.createGain();
        gain.gain.value = 0;
        gain.connect(this.master);
        this.gains[id] = gain;
      }
      this.current = null;
      this.playing = false;
      this.loopStart = 0;
      this.loopEnd = this.duration;
      this.sources = [];
      this.timer = null;
      this.onchange = () => {};
    }

    fade(param, curve, at) {
      const start = Math.max(at, this.busy.get(param) || 0);
      param.cancelScheduledValues(start);
      param.setValueCurveAtTime(curve, start, FADE);
      this.busy.set(param, start + FADE);
      return start + FADE;
    }

    // One pass over [offset, loopEnd), starting at context time `when`.
    pass(when, offset) {
      const length = this.loopEnd - offset;
      for (const [id, buffer] of Object.entries(this.buffers)) {
        const source = this.context.createBufferSource();
        source.buffer = buffer;
        source.connect(this.gains[id]);
        source.start(when, offset, length);
        this.sources.push(source);
      }
      this.fade(this.master.gain, FADE_IN, when);
      this.fade(this.master.gain, FADE_OUT, when + length - FADE);
      this.passStart = when;
      this.passOffset = offset;
      const next = when + length;
      const wait = Math.max(0, (next - this.context.currentTime - 0.1) * 1000);
      this.timer = setTimeout(() => {
        if (!this.playing) return;
        // Sources of finished passes are dropped; this pass's and the next stay stoppable.
        this.sources = this.sources.slice(-Object.keys(this.buffers).length);
        this.pass(next, this.loopStart);
      }, wait);
    }

    select(id) {
      const at = this.context.currentTime + LOOKAHEAD;
      if (!this.playing) {
        for (const [other, gain] of Object.entries(this.gains)) {
          gain.gain.cancelScheduledValues(0);
          gain.gain.value = other === id ? 1 : 0;
          this.busy.delete(gain.gain);
        }
        this.current = id;
        this.playing = true;
        this.pass(at, this.loopStart);
      } else if (id !== this.current) {
        const out = this.fade(this.gains[this.current].gain, FADE_OUT, at);
        this.fade(this.gains[id].gain, FADE_IN, out);
        this.current = id;
      }
      this.onchange();
    }

    stop() {
      if (!this.playing) return;
      const at = this.context.currentTime + LOOKAHEAD;
      this.master.gain.cancelScheduledValues(at);
      this.busy.delete(this.master.gain);
      const end = this.fade(this.master.gain, FADE_OUT, at);
      for (const source of this.sources) {
        try { source.stop(end); } catch (error) { /* already ended */ }
      }
      this.sources = [];
      clearTimeout(this.timer);
      this.playing = false;
      this.onchange();
    }

    position() {
      if (!this.playing) return this.loopStart;
      const elapsed = this.context.currentTime - this.passStart;
      return Math.min(this.loopEnd, Math.max(this.passOffset, this.passOffset + elapsed));
    }

    setLoop(start, end) {
      end = Math.min(this.duration, Math.max(end, start + MIN_LOOP));
      start = Math.max(0, Math.min(start, end - MIN_LOOP));
      this.loopStart = start;
      this.loopEnd = end;
      if (this.playing) {
        const id = this.current;
        this.stop();
        this.select(id);
      }
      this.onchange();
    }
  }

  // ------------------------------------------------------------------ state
  const page = {
    test: null, session: null, trials: {}, index: 0, player: null, context: null,
    trial: null, played: new Set(), ratings: {}, shownAt: 0, training: false,
  };
  window.gansepListen = page;  // for the browser test and for debugging

  function storageKey() { return "gansep-listen:" + location.pathname + ":" + page.test.name; }
  function saved() {
    try { return JSON.parse(localStorage.getItem(storageKey())) || {}; } catch (e) { return {}; }
  }
  function save(update) {
    localStorage.setItem(storageKey(), JSON.stringify(Object.assign(saved(), update)));
  }

  async function api(path, body) {
    const init = body === undefined ? { headers } : {
      method: "POST", body: JSON.stringify(body),
      headers: Object.assign({ "Content-Type": "application/json" }, headers),
    };
    const response = await fetch(path + (token ? "?token=" + encodeURIComponent(token) : ""), init);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || response.status + " " + response.statusText);
    return data;
  }

  function show(section) {
    for (const id of ["loading", "intro", "trial", "finished"]) $(id).hidden = !section.includes(id);
  }

  function remaining() {
    const done = new Set(page.session.done);
    return page.session.trial_order.filter((id) => !done.has(id));
  }

  function updateProgress() {
    const total = page.session.trial_order.length;
    const done = page.session.done.length;
    $("progress-text").textContent = page.training ? "Training"
      : "Trial " + Math.min(done + 1, total) + " of " + total;
    $("progress-bar").style.width = (100 * done / total) + "%";
  }

  async function loadBuffers(trial) {
    const entries = [["reference", trial.reference], ...trial.stimuli.map((s) => [s.key, s.url])];
    const decoded = await Promise.all(entries.map(async ([id, url]) => {
      const response = await fetch(url + (token ? "?token=" + encodeURIComponent(token) : ""), { headers });
      if (!response.ok) throw new Error("cannot load " + url + ": " + response.status);
      return [id, await page.context.decodeAudioData(await response.arrayBuffer())];
    }));
    return Object.fromEntries(decoded);
  }

  // ------------------------------------------------------------------ one trial
  function shuffled(items) {  // the training trial only: rated trials use the rater's orders
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  async function openTrial(trial, training) {
    // While the next trial's audio loads, nothing of the last one can be played or rated:
    // its rows go at once, and with no player the keys, the timeline and play() do nothing.
    // (A slider or a key pressed here would otherwise rate the next trial's stimulus from the
    // last trial's audio.)
    if (page.player) page.player.stop();
    page.player = null;
    $("stimuli").textContent = "";
    $("submit").disabled = true;
    $("start-test").disabled = true;
    $("message").textContent = "Loading\u2026";
    const buffers = await loadBuffers(trial);
    page.training = training;
    page.trial = trial;
    show(training ? ["intro", "trial"] : ["trial"]);
    $("submit").hidden = training;
    $("start-test").hidden = !training;
    $("start-test").disabled = false;
    $("message").textContent = "";
    updateProgress();
    const order = training ? shuffled(trial.stimuli.map((s) => s.key))
      : page.session.stimulus_order[trial.id];
    const keep = (!training && (saved().trials || {})[trial.id]) || {};
    page.ratings = Object.assign(Object.fromEntries(order.map((k) => [k, 0])), keep.ratings || {});
    page.played = new Set(keep.played || []);
    page.order = order;
    page.player = new Player(page.context, buffers);
    page.player.onchange = render;
    const rows = $("stimuli");
    order.forEach((key, i) => {
      const row = document.createElement("div");
      row.className = "row";
      const button = document.createElement("button");
      button.className = "stimulus-button";
      button.dataset.key = key;
      button.textContent = LABELS[i];
      button.title = "Play " + LABELS[i] + " (key " + LABELS[i] + ")";
      button.addEventListener("click", () => play(key));
      const slider = document.createElement("input");
      Object.assign(slider, { type: "range", min: 0, max: 100, step: 1, value: page.ratings[key] });
      slider.dataset.key = key;
      slider.setAttribute("aria-label", "Rating of " + LABELS[i]);
      const value = document.createElement("output");
      value.textContent = page.ratings[key];
      slider.addEventListener("input", () => {
        page.ratings[key] = Number(slider.value);
        value.textContent = slider.value;
        remember();
      });
      row.append(button, slider, value);
      rows.append(row);
    });
    page.shownAt = performance.now();
    render();
    drawTimeline();
  }

  function remember() {
    if (page.training) return;
    const trials = saved().trials || {};
    trials[page.trial.id] = { ratings: page.ratings, played: [...page.played] };
    save({ trials });
  }

  function play(key) {
    if (!page.player) return;
    page.context.resume();
    if (key !== "reference") page.played.add(key);
    page.player.select(key);
    remember();
    render();
  }

  function render() {
    const player = page.player;
    for (const button of document.querySelectorAll(".stimulus-button")) {
      const key = button.dataset.key;
      button.classList.toggle("playing", !!player && player.playing && player.current === key);
      button.classList.toggle("played", page.played.has(key));
    }
    const unplayed = page.order.filter((k) => !page.played.has(k)).length;
    $("submit").disabled = unplayed > 0;
    $("submit").title = unplayed ? unplayed + " version(s) not played yet" : "";
    if (player) {
      $("loop-text").textContent = "Loop " + player.loopStart.toFixed(2) + " s to "
        + player.loopEnd.toFixed(2) + " s";
    }
  }

  // ------------------------------------------------------------------ timeline
  function drawTimeline() {
    const canvas = $("timeline"), player = page.player;
    if (!player) return;
    const width = canvas.clientWidth;
    if (canvas.width !== width) canvas.width = width;
    const g = canvas.getContext("2d"), x = (t) => (t / player.duration) * width;
    g.clearRect(0, 0, width, canvas.height);
    g.fillStyle = "rgba(47, 111, 223, 0.18)";
    g.fillRect(x(player.loopStart), 0, x(player.loopEnd) - x(player.loopStart), canvas.height);
    g.fillStyle = "#2f6fdf";
    g.fillRect(x(player.position()) - 1, 0, 2, canvas.height);
    $("time").textContent = player.position().toFixed(2) + " s";
  }
  function animate() { drawTimeline(); requestAnimationFrame(animate); }

  function timeAt(event) {
    const box = $("timeline").getBoundingClientRect();
    return Math.max(0, Math.min(1, (event.clientX - box.left) / box.width)) * page.player.duration;
  }
  let dragFrom = null;
  $("timeline").addEventListener("mousedown", (event) => { if (page.player) dragFrom = timeAt(event); });
  window.addEventListener("mouseup", (event) => {
    if (dragFrom === null || !page.player) return;
    const to = timeAt(event);
    page.player.setLoop(Math.min(dragFrom, to), Math.max(dragFrom, to));
    dragFrom = null;
  });
  $("timeline").addEventListener("dblclick", () => page.player && page.player.setLoop(0, page.player.duration));

  // ------------------------------------------------------------------ submit and navigate
  async function submit() {
    if ($("submit").disabled || page.training) return;
    $("submit").disabled = true;
    const body = {
      rater: page.session.rater, session: page.session.session, trial: page.trial.id,
      ratings: page.ratings, order: page.order, played: [...page.played],
      time_on_page_ms: performance.now() - page.shownAt,
    };
    try {
      await api("/api/ratings", body);
    } catch (error) {
      $("message").textContent = "Not stored: " + error.message + ". Please try again.";
      render();
      return;
    }
    page.session.done.push(page.trial.id);
    const trials = saved().trials || {};
    delete trials[page.trial.id];
    save({ trials });
    await next();
  }

  async function next() {
    const left = remaining();
    if (!left.length) {
      if (page.player) page.player.stop();
      show(["finished"]);
      updateProgress();
      $("progress-text").textContent = "Done";
      return;
    }
    await openTrial(page.trials[left[0]], false);
  }

  $("submit").addEventListener("click", submit);
  $("start-test").addEventListener("click", () => { save({ trained: true }); next(); });
  $("play-reference").addEventListener("click", () => play("reference"));
  $("stop").addEventListener("click", () => page.player && page.player.stop());

  document.addEventListener("keydown", (event) => {
    if (!page.player || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.toLowerCase();
    const index = LABELS.toLowerCase().indexOf(key);
    if (key === "r") play("reference");
    else if (index >= 0 && index < page.order.length && key.length === 1) play(page.order[index]);
    else if (key === " ") { page.player.playing ? page.player.stop() : play(page.player.current || "reference"); }
    else if (key === "enter") { page.training ? $("start-test").click() : submit(); }
    else if ((key === "arrowup" || key === "arrowdown") && page.order.includes(page.player.current)) {
      const slider = document.querySelector('input[data-key="' + page.player.current + '"]');
      slider.value = Number(slider.value) + (key === "arrowup" ? 5 : -5);
      slider.dispatchEvent(new Event("input"));
    } else return;
    event.preventDefault();
  });

  // ------------------------------------------------------------------ start
  async function start() {
    try {
      page.test = await api("/api/test");
      document.title = $("title").textContent = page.test.name || "Listening test";
      for (const trial of page.test.trials) page.trials[trial.id] = trial;
      page.session = await api("/api/session", { rater: saved().rater || null });
      save({ rater: page.session.rater });
      try {
        page.context = new AudioContext({ sampleRate: page.test.rate });
      } catch (error) {
        page.context = new AudioContext();
      }
      requestAnimationFrame(animate);
      const training = page.test.trials.find((t) => t.training);
      if (training && !saved().trained && page.session.done.length === 0) {
        await openTrial(training, true);
      } else {
        await next();
      }
    } catch (error) {
      $("loading").textContent = "The test could not start: " + error.message;
      show(["loading"]);
    }
  }
  start();
})();
