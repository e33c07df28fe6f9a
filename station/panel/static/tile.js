// One socket's tile: built from the page's <template>, updated from the hub's messages (docs/panel.md).
import {el, post, t, translate, twoTap} from "./common.js";
import {PromptBox} from "./prompt.js";

const SYMBOL = {pass: "✓", fail: "✗", error: "!", skipped: "–", running: "▶"};
const STATUS = {pass: "✓", marginal: "≈", fail: "✗"};
const MAX_MEASUREMENTS = 1000;  // as the hub keeps
const MAX_ROWS = 200;  // shown; the report has them all
const DEBOUNCE_MS = 1000;

export function seconds(ms) {
  return `${Math.max(0, ms / 1000).toFixed(1)} s`;
}

function shown(value) {
  if (typeof value === "number" && !Number.isInteger(value)) return String(Number(value.toPrecision(5)));
  return typeof value === "string" ? value : JSON.stringify(value);
}

export class Tile {
  constructor(name, panel) {
    this.name = name;
    this.panel = panel;
    this.el = document.getElementById("tile-template").content.firstElementChild.cloneNode(true);
    this.el.dataset.socket = name;
    translate(this.el);
    this.$ = {};
    for (const node of this.el.querySelectorAll("[data-role]")) this.$[node.dataset.role] = node;
    this.$.name.textContent = name;
    this.light = null;
    this.steps = [];
    this.measurements = [];
    this.listIndex = null;
    this.rows = 0;
    this.stale = false;
    this.busy = false;
    this.lastSubmit = -Infinity;
    this.lastSerial = "";
    this.prompt = new PromptBox(this.$);
    this.$["scan-form"].addEventListener("submit", (e) => { e.preventDefault(); this.submitSerial(); });
    this.$["override-form"].addEventListener("submit", (e) => { e.preventDefault(); this.submitOverride(); });
    // a textarea, so the tile keeps one text input (the scan field); Enter sends the reason as in a field
    this.$["override-reason"].addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); this.submitOverride(); }
    });
    twoTap(this.$.stop, "socket.stop", () => this.stop());
    // the latest rows stay in view when the tile changes size (more sockets, a rotated screen)
    const bottom = new ResizeObserver((entries) => {
      for (const entry of entries) entry.target.scrollTop = entry.target.scrollHeight;
    });
    for (const list of this.el.querySelectorAll(".list")) bottom.observe(list);
    this.el.addEventListener("click", (e) => {
      if (!e.target.closest("button, a, input, textarea, .prompt")) this.focus();
    });
  }

  get input() { return this.$.serial; }

  focus() { if (!this.input.disabled) this.input.focus(); }

  acceptsUnit() {
    const s = this.light;
    // the station's word: "waiting" only while it takes a scan for this socket (its worker asked for a unit)
    return s !== null && s.state === "waiting" && !(s.scan && s.scan.accepted);
  }

  // -- the hub's messages --------------------------------------------------------------
  setFull(doc) {
    const unit = doc.unit ? {...doc.unit} : null;
    this.steps = unit?.steps ?? [];
    this.measurements = unit?.measurements ?? [];
    if (unit) { delete unit.steps; delete unit.measurements; }
    this.listIndex = unit?.index ?? null;
    this.stale = true;
    this.setLight({...doc, unit});
  }

  applyEvent(ev, light) {
    if (ev.kind === "unit_started") this.newUnit(ev.index);
    if (light.unit && ev.index === light.unit.index) {
      if (light.unit.index !== this.listIndex) this.newUnit(light.unit.index);
      if (ev.kind === "step_started") {
        this.steps.push({name: ev.step, number: ev.number, started_at: ev.at, outcome: null, duration_s: null,
          message: ""});
      } else if (ev.kind === "measurement" && this.measurements.length < MAX_MEASUREMENTS) {
        this.measurements.push({step: ev.step, name: ev.name, value: ev.value, units: ev.units, limit: ev.limit,
          status: ev.status});
      } else if (ev.kind === "step_finished") {
        let step = [...this.steps].reverse().find((s) => s.name === ev.step && s.outcome === null);
        if (!step) {
          step = {name: ev.step, number: this.steps.length + 1, started_at: ev.at};
          this.steps.push(step);
        }
        Object.assign(step, {outcome: ev.outcome, duration_s: ev.duration_s, message: ev.message});
      }
    }
    this.setLight(light);
  }

  newUnit(index) {
    this.steps = [];
    this.measurements = [];
    this.listIndex = index;
    this.stale = true;  // the rows shown are the last unit's
  }

  setLight(light) {
    if (!light.unit && this.listIndex !== null) this.newUnit(null);
    this.light = light;
    this.panel.changed(this);
  }

  // -- drawing: once per animation frame, whatever came since -------------------------
  render() {
    const s = this.light, u = s.unit, $ = this.$;
    this.el.dataset.state = s.state;
    $.state.textContent = t(`state.${s.state}`);
    $.units.textContent = t("unit.units", {units: s.units});
    this.input.disabled = s.state === "out_of_service";
    $.stop.disabled = s.state === "out_of_service" || s.stopping;
    if (s.stopping) $.stop.textContent = t("stop.stopping");
    else if (!$.stop.classList.contains("armed")) $.stop.textContent = t("socket.stop");
    this.showScan(s.scan);
    $.reason.hidden = !s.reason;
    $.reason.textContent = s.reason;
    const verdict = u?.verdict ?? null;
    $["verdict-box"].hidden = verdict === null;
    $["verdict-box"].dataset.verdict = verdict ?? "";
    $.verdict.textContent = verdict ?? "";
    $["verdict-word"].textContent = verdict ? t(`verdict.${verdict}`) : "";
    $.failure.textContent = u?.failure ?? "";
    $.report.hidden = !u?.report;
    if (u?.report) $.report.href = u.report;
    $.unit.hidden = !u;
    $.lists.hidden = !u;
    $.idle.hidden = Boolean(u) || s.state !== "waiting";
    if (u) {
      $["unit-title"].textContent = t("unit.title", {index: u.index});
      $["unit-serial"].textContent = u.serial ?? t("unit.no_serial");
      const total = Math.max(u.steps_total, this.steps.length, 1);
      $.progress.style.width = `${Math.min(100, (100 * u.steps_done) / total)}%`;
      $.current.hidden = !u.step;
      $["current-step"].textContent = u.step;
      $["current-of"].textContent = u.step ? t("unit.step", {number: u.number, of: u.steps_total}) : "";
    }
    this.renderSteps();
    this.renderMeasurements(u);
    this.renderPrompt(s.prompt);
    this.tick(this.panel.now());
  }

  showScan(scan) {
    const msg = this.$["scan-msg"];
    msg.dataset.accepted = scan ? String(scan.accepted) : "";
    // a unit refused for rework (the station's state says so): the reason to test it anyway
    const refused = this.light?.scan;
    this.$["override-form"].hidden = !(scan && !scan.accepted && refused?.override && refused.serial === scan.serial);
    if (!scan) { msg.textContent = ""; return; }
    msg.textContent = scan.accepted
      ? t("scan.accepted", {serial: scan.serial}) + (scan.reason ? ` · ${scan.reason}` : "")
      : t("scan.refused", {reason: scan.reason});
  }

  renderSteps() {
    const list = this.$.steps;
    while (list.children.length > this.steps.length) list.lastElementChild.remove();
    this.steps.forEach((step, i) => {
      let li = list.children[i];
      if (!li) {
        li = el("li");
        li.append(el("span", "sym"), el("span", "step-name"), el("span", "dur"));
        list.append(li);
      }
      const outcome = step.outcome ?? "running";
      li.dataset.outcome = outcome;
      li.dataset.started = step.started_at;
      li.title = step.message ? `${t(`outcome.${outcome}`)}: ${step.message}` : t(`outcome.${outcome}`);
      li.children[0].textContent = SYMBOL[outcome] ?? "?";
      li.children[1].textContent = step.name;
      if (step.duration_s !== null && step.duration_s !== undefined) {
        li.children[2].textContent = seconds(step.duration_s * 1000);
      }
    });
    list.scrollTop = list.scrollHeight;
  }

  clearRows() {
    this.rows = 0;
    this.$.measurements.replaceChildren();
  }

  renderMeasurements(u) {
    const body = this.$.measurements;
    if (this.stale || this.rows > this.measurements.length) {
      this.clearRows();
      this.stale = false;
    }
    for (; this.rows < this.measurements.length; this.rows++) {
      const m = this.measurements[this.rows];
      const row = el("tr");
      row.dataset.status = m.status;
      const name = el("td", "m-name", m.name);
      name.title = m.step;
      const status = el("td", "m-status", STATUS[m.status] ?? "?");
      status.title = t(`status.${m.status}`);
      const limit = el("td", "m-limit", m.limit);
      limit.title = m.limit;
      row.append(name, el("td", "m-value", m.units ? `${shown(m.value)} ${m.units}` : shown(m.value)),
        limit, status);
      body.append(row);
    }
    while (body.children.length > MAX_ROWS) body.firstElementChild.remove();
    const more = (u?.measurements_count ?? 0) - body.children.length;
    this.$.more.hidden = more <= 0;
    this.$.more.textContent = more > 0 ? t("measurements.more", {count: more}) : "";
    const box = body.closest(".list");
    box.scrollTop = box.scrollHeight;
  }

  tick(now) {
    this.prompt.tick(now);
    const u = this.light?.unit;
    if (!u) return;
    const end = u.ended_at ? Date.parse(u.ended_at) : now;
    this.$.elapsed.textContent = seconds(end - Date.parse(u.started_at));
    const running = u.step_started_at && !u.verdict ? now - Date.parse(u.step_started_at) : null;
    this.$["current-time"].textContent = running === null ? "" : seconds(running);
    const li = this.$.steps.querySelector('li[data-outcome="running"]');
    if (li) li.children[2].textContent = seconds(now - Date.parse(li.dataset.started));
  }

  // -- the operator --------------------------------------------------------------------
  async submitSerial() {
    const serial = this.input.value.trim();
    const now = performance.now();
    // a double Enter, a double read: the same serial again at once is the same scan
    if (!serial || this.busy || (serial === this.lastSerial && now - this.lastSubmit < DEBOUNCE_MS)) return;
    this.busy = true;
    this.lastSubmit = now;
    this.lastSerial = serial;
    const reply = await post(`/api/sockets/${encodeURIComponent(this.name)}/serial`, {serial});
    this.busy = false;
    const accepted = reply.status === 200 && reply.body.accepted === true;
    this.showScan({serial, accepted, reason: reply.body.reason ?? ""});
    if (accepted) {
      this.input.value = "";
      this.panel.focusNext(this);
    } else {
      this.input.select();
    }
  }

  async submitOverride() {
    const serial = this.light?.scan?.serial;
    const field = this.$["override-reason"];
    const reason = field.value.trim();
    if (!serial || !reason || this.busy) return;
    this.busy = true;
    const reply = await post(`/api/sockets/${encodeURIComponent(this.name)}/override`, {serial, reason});
    this.busy = false;
    const accepted = reply.status === 200 && reply.body.accepted === true;
    if (accepted) {
      field.value = "";
      this.input.value = "";
      this.panel.focusNext(this);
    }
    this.showScan({serial, accepted, reason: reply.body.reason ?? ""});
  }

  async stop() {
    const reply = await post("/api/stop", {socket: this.name});
    if (reply.status !== 200) this.showScan({serial: "", accepted: false, reason: reply.body.reason ?? ""});
  }

  renderPrompt(p) {
    this.el.classList.toggle("asking", Boolean(p));
    this.prompt.show(p);
  }
}
