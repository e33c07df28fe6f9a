// The operator panel's page: the header, one tile per socket, the stream from /api/events (docs/panel.md).
import {post, t, translate, twoTap} from "./common.js";
import {Tile} from "./tile.js";

// A duration as the header shows it: seconds under a minute, minutes under two hours, then hours.
export function age(seconds) {
  if (seconds === null || seconds === undefined) return t("status.unknown");
  if (seconds < 60) return t("age.s", {n: Math.floor(seconds)});
  if (seconds < 7200) return t("age.min", {n: Math.floor(seconds / 60)});
  return t("age.h", {n: Math.floor(seconds / 3600)});
}

class Panel {
  constructor() {
    this.seq = -1;
    this.offset = 0;  // the station's clock minus this browser's, from the last state
    this.tiles = new Map();
    this.dirty = new Set();  // tiles to draw in the next frame
    this.told = [];  // the messages drawn in it
    this.frame = 0;
    this.main = document.getElementById("tiles");
    this.banner = document.getElementById("banner");
    this.operator = document.getElementById("operator");
    translate(document.body);
    document.title = t("page.title");
    document.getElementById("operator-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.setOperator();
    });
    this.operator.addEventListener("change", () => this.setOperator());
    const stop = document.getElementById("stop-station");
    twoTap(stop, "header.stop_station", async () => {
      const reply = await post("/api/stop", {});
      if (reply.status !== 200) this.say(reply.body.reason ?? "");
    });
    document.addEventListener("keydown", (e) => {  // a scan while nothing has the focus goes to a serial field
      const idle = document.activeElement === null || document.activeElement === document.body;
      if (idle && e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) this.preferred()?.focus();
    });
    setInterval(() => this.tick(), 200);
    this.connect();
  }

  now() { return Date.now() + this.offset; }

  connect() {
    this.source = new EventSource("/api/events");
    this.source.onmessage = (e) => this.onMessage(JSON.parse(e.data));
    this.source.onerror = () => {
      if (this.source.readyState !== EventSource.CLOSED) this.say(t("conn.lost"));
    };
  }

  onMessage(m) {
    if (m.type === "bye") {
      this.source.close();
      this.say(t("conn.ended"));
    } else if (m.type === "state") {
      this.applyState(m);
    } else {
      if (m.seq <= this.seq) return;
      this.seq = m.seq;
      if (m.type === "event") {
        this.tile(m.tile.name).applyEvent(m.event, m.tile);
        this.counts(m.counts);
      } else if (m.type === "tile") {
        this.tile(m.tile.name).setLight(m.tile);
      } else if (m.type === "header") {
        this.header(m);
      }
    }
    this.told.push({seq: this.seq, type: m.type, kind: m.event?.kind ?? null});
    this.schedule();
  }

  changed(tile) {
    this.dirty.add(tile);
    this.schedule();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  // Messages change the model as they come; the tiles are drawn once a frame. Each message drawn is
  // told by a "panel:rendered" event ({seq, type, kind}): for tests and the latency bench.
  draw() {
    this.frame = 0;
    for (const tile of this.dirty) tile.render();
    this.dirty.clear();
    this.keepFocus();
    const told = this.told;
    this.told = [];
    for (const detail of told) document.dispatchEvent(new CustomEvent("panel:rendered", {detail}));
  }

  applyState(doc) {
    this.say("");
    this.seq = doc.seq;
    this.offset = Date.parse(doc.now) - Date.now();
    document.documentElement.lang = doc.lang;
    const names = doc.sockets.map((s) => s.name);
    for (const [name, tile] of this.tiles) {
      if (!names.includes(name)) { tile.el.remove(); this.tiles.delete(name); }
    }
    for (const s of doc.sockets) this.tile(s.name).setFull(s);
    this.header(doc);
  }

  tile(name) {
    let tile = this.tiles.get(name);
    if (!tile) {
      tile = new Tile(name, this);
      this.tiles.set(name, tile);
      this.main.append(tile.el);
      this.layout();
    }
    return tile;
  }

  layout() {
    const n = Math.max(1, this.tiles.size);
    const cols = n <= 3 ? n : n === 4 ? 2 : Math.ceil(n / 2);
    this.main.style.setProperty("--cols", cols);
    this.main.style.setProperty("--rows", Math.ceil(n / cols));
  }

  header(h) {
    document.getElementById("station-name").textContent = h.station.name;
    document.getElementById("plan").textContent = `${h.plan.name} ${h.plan.version} · ${h.plan.short}`;
    document.getElementById("plan").title = h.plan.sha256;
    if (document.activeElement !== this.operator) this.operator.value = h.station.operator;
    this.counts(h.counts);
    const unknown = t("status.unknown");
    const st = h.status;
    document.getElementById("status-pool").textContent = st.pool ?? unknown;
    document.getElementById("status-backlog").textContent = st.backlog ?? unknown;
    const cloud = document.getElementById("status-cloud");
    cloud.textContent = st.cloud_ok === null ? unknown : t(st.cloud_ok ? "cloud.ok" : "cloud.down");
    cloud.dataset.ok = String(st.cloud_ok);
    this.results(st.results);
    const stop = document.getElementById("stop-station");
    stop.disabled = h.station.stopping;
    if (h.station.stopping) stop.textContent = t("stop.stopping");
  }

  // The central results store's lag: "12 behind (oldest 3 min)" or "up to date"; hidden without a sync.
  results(r) {
    document.getElementById("status-results-item").hidden = !r;
    if (!r) return;
    const el = document.getElementById("status-results");
    const lag = r.behind === 0 ? (r.set_aside ? "" : t("results.up_to_date"))
      : t(r.oldest_s === null ? "results.behind" : "results.behind_oldest", {n: r.behind, age: age(r.oldest_s)});
    const refused = r.set_aside ? t("results.set_aside", {n: r.set_aside}) : "";
    el.textContent = [lag, refused].filter(Boolean).join("; ");
    el.dataset.ok = String(r.error === "" && r.reachable !== false && !r.set_aside);
    el.title = r.error ? t("results.error", {error: r.error}) : r.target;
  }

  counts(c) {
    document.getElementById("count-tested").textContent = c.tested;
    document.getElementById("count-pass").textContent = c.pass;
    document.getElementById("count-fail").textContent = c.fail + c.error;
    document.getElementById("count-yield").textContent =
      c.yield === null ? t("status.unknown") : `${(100 * c.yield).toFixed(1)}%`;
  }

  async setOperator() {
    const name = this.operator.value.trim();
    if (!name) return;
    const reply = await post("/api/operator", {name});
    this.operator.dataset.refused = String(reply.status !== 200);
    this.operator.title = reply.status === 200 ? "" : reply.body.reason ?? "";
    if (reply.status === 200) this.operator.blur();
  }

  say(text) {
    this.banner.hidden = !text;
    this.banner.textContent = text;
  }

  tick() {
    const now = this.now();
    for (const tile of this.tiles.values()) tile.tick(now);
  }

  // -- where a scan goes ---------------------------------------------------------------
  preferred() {
    const tiles = [...this.tiles.values()];
    return tiles.find((tile) => tile.acceptsUnit() && !tile.input.disabled)
      ?? tiles.find((tile) => !tile.input.disabled);
  }

  keepFocus() {
    const active = document.activeElement;
    if (active === null || active === document.body) this.preferred()?.focus();
  }

  focusNext(from) {
    const tiles = [...this.tiles.values()];
    const start = tiles.indexOf(from);
    for (let i = 1; i < tiles.length; i++) {
      const tile = tiles[(start + i) % tiles.length];
      if (tile.acceptsUnit()) { tile.focus(); return; }
    }
  }
}

window.panel = new Panel();
