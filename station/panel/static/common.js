// The page's words (the catalogue the server embedded for the hub's language: messages/<lang>.json) and
// small helpers every part of the page uses.
const messages = JSON.parse(document.getElementById("messages").textContent);

export function t(key, fields = {}) {
  let text = messages[key] ?? key;
  for (const [name, value] of Object.entries(fields)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

// Fills every data-msg (text), data-msg-placeholder and data-msg-aria-label under root.
export function translate(root) {
  for (const el of root.querySelectorAll("[data-msg]")) el.textContent = t(el.dataset.msg);
  for (const el of root.querySelectorAll("[data-msg-placeholder]")) el.placeholder = t(el.dataset.msgPlaceholder);
  for (const el of root.querySelectorAll("[data-msg-aria-label]")) {
    el.setAttribute("aria-label", t(el.dataset.msgAriaLabel));
  }
}

// POST a JSON body; resolves to {status, body} (body: the panel's {accepted, reason}).
export async function post(url, doc) {
  try {
    const response = await fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(doc)});
    let body = {};
    try { body = await response.json(); } catch { body = {}; }
    return {status: response.status, body};
  } catch {
    return {status: 0, body: {accepted: false, reason: t("conn.lost")}};
  }
}

// A button that acts on a second tap within 3 s (stopping is not undone).
export function twoTap(button, label, act) {
  let armed = null;
  button.addEventListener("click", () => {
    if (button.disabled) return;
    if (armed === null) {
      button.classList.add("armed");
      button.textContent = t("stop.again");
      armed = setTimeout(() => { armed = null; button.classList.remove("armed"); button.textContent = t(label); }, 3000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    button.classList.remove("armed");
    button.textContent = t(label);
    act();
  });
}

export function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}
