// opsdeck web UI — DOM helpers. Everything from the API is written as text (textContent,
// attributes, form values), never parsed as HTML.

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

// An SVG element (charts). Presentation attributes only: the CSP forbids style attributes.
export function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, String(v));
  }
  append(node, children);
  return node;
}

function setAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "className") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k === "onclick") node.addEventListener("click", v);
    else if (k === "oninput") node.addEventListener("input", v);
    else if (k === "onchange") node.addEventListener("change", v);
    else if (k === "onsubmit") node.addEventListener("submit", v);
    else if (k === "value") node.value = v;
    else if (k === "checked") node.checked = v === true;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
}

function append(node, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    node.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

export function $(id) {
  return document.getElementById(id);
}

// Text in which `backticks` mark code, as provider help texts write it: returns nodes with
// <code> elements, built from text only.
export function richText(text) {
  const out = [];
  const parts = String(text).split("`");
  parts.forEach((part, i) => {
    if (part === "") return;
    // An odd number of backticks leaves the last part unpaired: show it as text.
    if (i % 2 === 1 && i < parts.length - 1) out.push(el("code", { text: part }));
    else out.push(document.createTextNode(i % 2 === 1 ? "`" + part : part));
  });
  return out;
}

// A view's heading, focusable by script so route and step changes can move focus to it.
export function heading(level, text, id) {
  return el("h" + level, { id, tabindex: "-1", text });
}

export function focus(node) {
  if (!node) return;
  if (!node.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(node.tagName)) {
    node.setAttribute("tabindex", "-1");
  }
  node.focus({ preventScroll: false });
}

// Disables a button while `work` runs, with a label saying what is happening; restores it after.
export async function busy(button, label, work) {
  const before = button.textContent;
  const wasDisabled = button.disabled;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = wasDisabled;
    button.removeAttribute("aria-busy");
    button.textContent = before;
  }
}

// A modal confirmation (native <dialog>: focus is trapped and Escape cancels). Resolves true when
// the confirm button was pressed.
export function confirmDialog(opts) {
  return new Promise((resolve) => {
    const titleId = "dialog-title-" + Math.random().toString(36).slice(2);
    const cancel = el("button", { type: "button", className: "secondary", text: opts.cancelLabel || "Cancel" });
    const ok = el("button", {
      type: "button",
      className: opts.danger ? "danger" : "",
      text: opts.confirmLabel || "Confirm",
    });
    const body = (Array.isArray(opts.body) ? opts.body : [opts.body]).filter(Boolean).map((b) =>
      typeof b === "string" ? el("p", { text: b }) : b
    );
    const dlg = el(
      "dialog",
      { className: "dialog", "aria-labelledby": titleId },
      el("h2", { id: titleId, text: opts.title }),
      body,
      el("div", { className: "actions" }, cancel, ok)
    );
    let answered = false;
    const done = (v) => {
      if (answered) return;
      answered = true;
      if (dlg.open) dlg.close();
      dlg.remove();
      if (opts.returnFocus && document.contains(opts.returnFocus)) opts.returnFocus.focus();
      resolve(v);
    };
    cancel.addEventListener("click", () => done(false));
    ok.addEventListener("click", () => done(true));
    dlg.addEventListener("cancel", () => done(false));
    dlg.addEventListener("close", () => done(false));
    document.body.append(dlg);
    dlg.showModal();
    (opts.danger ? cancel : ok).focus();
  });
}
