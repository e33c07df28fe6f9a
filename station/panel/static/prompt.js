// A station test's question in its socket's tile: confirm, choose, a number or a text; answered by POST.
import {el, post, t} from "./common.js";

export class PromptBox {
  constructor($) {
    this.$ = $;
    this.id = "";
    this.deadline = null;  // the station's clock, ms
    this.answering = false;
  }

  show(p) {
    const $ = this.$;
    $.prompt.hidden = !p;
    if (!p) { this.id = ""; this.deadline = null; return; }
    $["prompt-error"].textContent = p.error ?? "";
    if (p.id === this.id) return;  // keep what the operator is typing
    this.id = p.id;
    $["prompt-text"].textContent = p.text;
    $["prompt-image"].hidden = !p.image;
    if (p.image) $["prompt-image"].src = p.image;
    else $["prompt-image"].removeAttribute("src");
    this.deadline = Date.parse(p.at) + 1000 * p.timeout_s;
    const range = p.low !== null && p.high !== null ? t("prompt.range", {low: p.low, high: p.high}) : "";
    $["prompt-hint"].textContent = [range, p.units ?? ""].join(" ").trim();
    $["prompt-actions"].replaceChildren(...this.controls(p));
  }

  controls(p) {
    const button = (label, value, cls = "") => {
      const b = el("button", cls, label);
      b.type = "button";
      b.addEventListener("click", () => this.answer(p.id, value));
      return b;
    };
    if (p.ask === "confirm") {
      const [yes, no] = p.options.length === 2 ? p.options : ["yes", "no"];
      return [button(t("prompt.yes"), yes, "yes"), button(t("prompt.no"), no, "no")];
    }
    if (p.ask === "choose") return p.options.map((o) => button(o, o, "choice"));
    const field = p.ask === "number" ? el("input") : el("textarea");
    if (p.ask === "number") {
      Object.assign(field, {type: "number", step: "any", inputMode: "decimal"});
      if (p.low !== null) field.min = p.low;
      if (p.high !== null) field.max = p.high;
    } else {
      field.rows = 1;  // not an input[type=text]: the tile's serial field stays its only one
    }
    field.className = "answer";
    field.dataset.role = "answer";
    field.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); this.answer(p.id, field.value.trim()); }
    });
    const ok = el("button", "ok", t("prompt.ok"));
    ok.type = "button";
    ok.addEventListener("click", () => this.answer(p.id, field.value.trim()));
    return [field, ok];
  }

  tick(now) {
    const left = this.deadline === null ? null : Math.max(0, Math.ceil((this.deadline - now) / 1000));
    this.$["prompt-time"].textContent = left === null ? "" : t("prompt.remaining", {seconds: left});
  }

  async answer(id, value) {
    if (this.answering || value === "") return;
    this.answering = true;
    const buttons = [...this.$.prompt.querySelectorAll("button")];
    for (const b of buttons) b.disabled = true;
    const reply = await post(`/api/prompts/${encodeURIComponent(id)}`, {answer: value});
    this.answering = false;
    for (const b of buttons) b.disabled = false;
    if (reply.status !== 200) this.$["prompt-error"].textContent = reply.body.reason ?? "";
  }
}
