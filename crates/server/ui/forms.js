// opsdeck web UI — forms generated from a provider's JSON Schema, used by the add-service wizard
// ("create": empty fields are left out so the provider default applies) and the edit form
// ("edit": pre-filled; what is sent follows PATCH: a value replaces, null removes, an untouched
// secret is left out so the stored one is kept). Plus the fields every service has (name, tags,
// interval) and the mapping from a failed check to the field it points at.

import { el, richText, focus } from "./dom.js";
import { humanize, failureText, duration } from "./format.js";

let uid = 0;

function fieldKind(s) {
  if (Array.isArray(s.enum)) return "enum";
  if (s.type === "boolean") return "boolean";
  if (s.type === "integer" || s.type === "number") return "integer";
  if (s.type === "array") return "array";
  if (s["x-secret"] === true || s.writeOnly === true || s.format === "password") return "secret";
  if (s.format === "uri") return "url";
  return "string";
}

function fmt(v) {
  return Array.isArray(v) ? v.join(", ") : String(v);
}

// A field's error slot and invalid state.
export function setFieldError(input, errNode, message) {
  input.setAttribute("aria-invalid", "true");
  if (errNode) {
    errNode.textContent = message;
    errNode.hidden = false;
  }
}

export function clearFieldError(input, errNode) {
  input.removeAttribute("aria-invalid");
  if (errNode) {
    errNode.textContent = "";
    errNode.hidden = true;
  }
}

// The schema form of provider `p` (`GET /providers/{id}`). `opts.mode` is "create" or "edit";
// in edit mode `opts.current` is the stored config as the API reads it (secrets `{"set": bool}`).
export function schemaForm(p, opts) {
  const o = opts || {};
  const mode = o.mode || "create";
  const current = o.current || {};
  const prefix = "f" + ++uid + "-";
  const schema = p.schema || {};
  const props = schema.properties || {};
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const specs = new Map();
  for (const f of Array.isArray(p.fields) ? p.fields : []) if (f && typeof f.name === "string") specs.set(f.name, f);
  const order = [];
  for (const name of specs.keys()) if (props[name] && !order.includes(name)) order.push(name);
  for (const k of Object.keys(props)) if (!order.includes(k)) order.push(k);

  const fields = order.map((name) =>
    buildField(prefix, name, props[name] || {}, specs.get(name) || {}, required.has(name), mode, current[name])
  );
  const element = el("div", { className: "schema-form" }, fields.map((f) => f.wrap));

  const form = {
    element,
    fields,
    provider: p,
    byName: (n) => fields.find((f) => f.name === n),
    // Reads the values; marks what is invalid unless `quiet` (e.g. to compare with the tested
    // config).
    collect: (o) => collect(fields, mode, !(o && o.quiet)),
    clearErrors() {
      for (const f of fields) clearFieldError(f.input, f.err);
    },
    mark(name, message) {
      const f = form.byName(name);
      if (f) setFieldError(f.input, f.err, message);
      return f;
    },
    // Puts the server's per-field problems (`config.<name>`) next to the inputs; returns the
    // problems that matched no field.
    applyServerErrors(e) {
      const rest = [];
      for (const d of (e && e.details) || []) {
        if (!d || typeof d.field !== "string") continue;
        const m = /^config\.([^.[\]]+)/.exec(d.field);
        if (m && form.mark(m[1], d.message)) continue;
        rest.push(d);
      }
      return rest;
    },
    // The fields a failed check points at, with what to say next to each.
    fieldsForFailure(kind, providerName) {
      const vendor = providerName || p.name || "The vendor";
      // The credentials that were sent: a provider may take one of several (a token or App
      // fields), and an empty one was not judged. None given or kept: all of them.
      const allSecrets = fields.filter((f) => f.kind === "secret");
      const given = allSecrets.filter((f) => f.input.value.trim() !== "" || f.isSet);
      const secrets = given.length ? given : allSecrets;
      const urls = fields.filter((f) => f.kind === "url");
      const filled = fields.filter(
        (f) => (f.kind === "string" || f.kind === "array") && f.input.value.trim() !== ""
      );
      const out = [];
      const add = (list, msg) => list.forEach((f) => out.push({ field: f, message: msg(f) }));
      if (kind === "invalid_credentials") {
        add(secrets, (f) => vendor + " did not accept this " + f.label.toLowerCase() + " (" + failureText(kind).toLowerCase() + "). Paste a valid one.");
      } else if (kind === "permission_denied") {
        add(secrets, (f) => "This " + f.label.toLowerCase() + " lacks a permission the check needs; see the message above.");
      } else if (kind === "not_found") {
        add(urls, () => "Check this address: " + vendor + " answered “not found”.");
        add(filled, () => "Check this value: " + vendor + " answered “not found”.");
      } else if (kind === "unreachable") {
        add(urls, () => "Could not connect to this address.");
      } else if (kind === "timeout") {
        add(urls, () => "This address did not answer in time.");
      }
      return out;
    },
    focusFirstInvalid() {
      const bad = element.querySelector("[aria-invalid='true']");
      if (bad) focus(bad);
      return !!bad;
    },
  };
  return form;
}

function buildField(prefix, name, s, spec, required, mode, currentValue) {
  const id = prefix + name.replace(/[^A-Za-z0-9_-]/g, "_");
  const helpId = id + "-help";
  const errId = id + "-error";
  const kind = fieldKind(s);
  const label = String(spec.label || s.title || humanize(name));
  const isSet = kind === "secret" && currentValue && typeof currentValue === "object" && currentValue.set === true;

  const labelEl = el("label", { for: id }, el("span", { className: "label-text", text: label }));
  if (required) labelEl.append(" ", el("span", { className: "req", text: "required" }));
  if (kind === "secret") labelEl.append(" ", el("span", { className: "tag", text: isSet ? "secret · set" : "secret" }));
  const key = el("code", { className: "key", title: "Key in the config file and the API", text: name });

  const common = { id, name, "aria-describedby": helpId + " " + errId, "data-field": name };
  let input;
  let remove = null;
  let reveal = null;
  if (kind === "boolean") {
    input = el("input", Object.assign({ type: "checkbox" }, common));
    input.checked = mode === "edit" && typeof currentValue === "boolean" ? currentValue : s.default === true;
  } else if (kind === "enum") {
    input = el("select", common);
    const dflt = s.default !== undefined ? "Default (" + fmt(s.default) + ")" : "Not set";
    input.append(el("option", { value: "" }, required ? "Choose…" : dflt));
    for (const v of s.enum) input.append(el("option", { value: String(v) }, String(v)));
    if (mode === "edit" && currentValue !== undefined && currentValue !== null) input.value = String(currentValue);
  } else if (kind === "array") {
    input = el("textarea", Object.assign({ rows: 3, spellcheck: "false" }, common));
    if (mode === "edit" && Array.isArray(currentValue)) input.value = currentValue.join("\n");
  } else if (kind === "integer") {
    input = el("input", Object.assign({ type: "number", step: 1, inputmode: "numeric" }, common));
    if (typeof s.minimum === "number") input.min = String(s.minimum);
    if (typeof s.maximum === "number") input.max = String(s.maximum);
    if (mode === "edit" && typeof currentValue === "number") input.value = String(currentValue);
  } else if (kind === "secret") {
    input = el("input", Object.assign({ type: "password", autocomplete: "new-password", spellcheck: "false" }, common));
    if (isSet) input.placeholder = "Set — leave empty to keep";
    reveal = el("button", { type: "button", className: "secondary small reveal", "aria-pressed": "false", "aria-controls": id }, "Show");
    reveal.addEventListener("click", () => {
      const show = input.type === "password";
      input.type = show ? "text" : "password";
      reveal.textContent = show ? "Hide" : "Show";
      reveal.setAttribute("aria-pressed", show ? "true" : "false");
    });
    if (isSet && !required) {
      remove = el("input", { type: "checkbox", id: id + "-remove" });
      remove.addEventListener("change", () => {
        input.disabled = remove.checked;
        if (remove.checked) input.value = "";
      });
    }
  } else {
    input = el("input", Object.assign({ type: kind === "url" ? "url" : "text", spellcheck: "false" }, common));
    if (mode === "edit" && currentValue !== undefined && currentValue !== null && typeof currentValue !== "object") {
      input.value = String(currentValue);
    }
  }
  if (required) {
    input.setAttribute("aria-required", "true");
  }
  if (s.default !== undefined && (kind === "string" || kind === "url" || kind === "integer" || kind === "array")) {
    input.setAttribute("placeholder", fmt(s.default));
  }

  const help = el("p", { id: helpId, className: "help" });
  if (s.description) help.append(...richText(String(s.description)));
  const extra = [];
  if (kind === "array") extra.push("One value per line (or comma-separated).");
  if (s.default !== undefined && kind !== "boolean") extra.push("Default: " + fmt(s.default) + ".");
  if (Array.isArray(s.examples) && s.examples.length && kind !== "secret") extra.push("Example: " + fmt(s.examples[0]) + ".");
  if (kind === "integer" && (typeof s.minimum === "number" || typeof s.maximum === "number")) {
    extra.push("From " + (s.minimum ?? "…") + " to " + (s.maximum ?? "…") + ".");
  }
  if (kind === "secret") {
    extra.push(
      isSet
        ? "Stored encrypted and never shown. Leave empty to keep it; type a new value to replace it."
        : "Stored encrypted; never shown again."
    );
  }
  if (extra.length) help.append((help.firstChild ? " " : "") + extra.join(" "));
  const err = el("p", { id: errId, className: "field-error", hidden: true });
  const unmark = () => clearFieldError(input, err);
  input.addEventListener("input", unmark);
  input.addEventListener("change", unmark);
  if (remove) remove.addEventListener("change", unmark);

  let wrap;
  if (kind === "boolean") {
    wrap = el("div", { className: "field check" }, input, labelEl, key, help, err);
  } else {
    const control = reveal ? el("div", { className: "with-button" }, input, reveal) : input;
    wrap = el("div", { className: "field" }, el("div", { className: "label-row" }, labelEl, key), control, help);
    if (remove) {
      wrap.append(
        el("div", { className: "check" }, remove, el("label", { for: remove.id, text: "Remove the stored " + label.toLowerCase() }))
      );
    }
    wrap.append(err);
  }
  return { name, label, schema: s, kind, required, input, err, wrap, remove, isSet, mode, current: currentValue };
}

function parseValue(f, raw) {
  const s = f.schema;
  const v = f.kind === "secret" ? raw : raw.trim();
  if (f.kind === "integer") {
    if (!/^-?[0-9]+$/.test(v)) return { error: "Enter a whole number." };
    const n = Number(v);
    if ((typeof s.minimum === "number" && n < s.minimum) || (typeof s.maximum === "number" && n > s.maximum)) {
      return { error: "Must be from " + (s.minimum ?? "…") + " to " + (s.maximum ?? "…") + "." };
    }
    return { value: n };
  }
  if (f.kind === "array") {
    const items = v
      .split(/[\n,]/)
      .map((x) => x.trim())
      .filter((x) => x !== "");
    return { value: items };
  }
  if (f.kind === "url") {
    let ok = false;
    try {
      const u = new URL(v);
      ok = u.protocol === "http:" || u.protocol === "https:";
    } catch (_) {
      ok = false;
    }
    return ok ? { value: v } : { error: "Enter a full address that starts with http or https." };
  }
  if (typeof s.pattern === "string" && f.kind !== "secret") {
    let re = null;
    try {
      re = new RegExp(s.pattern);
    } catch (_) {
      re = null;
    }
    if (re && !re.test(v)) {
      return { error: "Does not have the expected form." + (Array.isArray(s.examples) ? " Example: " + fmt(s.examples[0]) + "." : "") };
    }
  }
  return { value: v };
}

// Reads the fields into a config object: {config, errors: [{field, message}]}; marks the errors.
// A mark goes away when its field is edited (see buildField), not here: a mark from a failed
// test must survive reading the form.
function collect(fields, mode, mark) {
  const config = {};
  const errors = [];
  for (const f of fields) {
    if (f.kind === "boolean") {
      // Sent only when it differs from what applies now (stored value, else the default).
      const now = mode === "edit" && typeof f.current === "boolean" ? f.current : f.schema.default === true;
      if (f.input.checked !== now || (f.required && f.schema.default === undefined && mode === "create")) {
        config[f.name] = f.input.checked;
      }
      continue;
    }
    if (f.kind === "secret" && mode === "edit") {
      if (f.remove && f.remove.checked) {
        config[f.name] = null;
        continue;
      }
      if (f.input.value === "") {
        if (f.required && !f.isSet) errors.push({ field: f, message: "Required." });
        continue; // left out: the stored secret is kept
      }
    }
    const raw = f.input.value;
    if ((f.kind === "secret" ? raw : raw.trim()) === "") {
      if (f.required) errors.push({ field: f, message: "Required." });
      else if (mode === "edit") config[f.name] = null;
      continue;
    }
    const r = parseValue(f, raw);
    if (r.error) errors.push({ field: f, message: r.error });
    else if (f.kind === "array" && r.value.length === 0) {
      if (f.required) errors.push({ field: f, message: "Required." });
      else if (mode === "edit") config[f.name] = null;
    } else config[f.name] = r.value;
  }
  if (mark) for (const e of errors) setFieldError(e.field.input, e.field.err, e.message);
  return { config, errors };
}

// ---------- the fields every service has ----------

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function validName(n) {
  return NAME_RE.test(n);
}

// A labelled text field with help and an error slot: {wrap, input, err}.
export function textField(label, help, attrs) {
  const id = "x" + ++uid;
  const input = el("input", Object.assign({ id, spellcheck: "false", "aria-describedby": id + "-help " + id + "-error" }, attrs || {}));
  const err = el("p", { id: id + "-error", className: "field-error", hidden: true });
  const wrap = el(
    "div",
    { className: "field" },
    el("label", { for: id, text: label }),
    input,
    el("p", { id: id + "-help", className: "help" }, ...richText(help)),
    err
  );
  input.addEventListener("input", () => clearFieldError(input, err));
  return { wrap, input, err };
}

export function parseTags(text) {
  const seen = new Set();
  for (const t of String(text).split(",")) {
    const v = t.trim();
    if (v !== "") seen.add(v);
  }
  return [...seen];
}

const INTERVALS = [60, 300, 900, 1800, 3600, 6 * 3600, 86400];

// The check interval as a select: the server default or a common interval (a stored custom one
// is kept as an option). `value()` is seconds or null.
export function intervalField(current) {
  const id = "x" + ++uid;
  const select = el("select", { id, "aria-describedby": id + "-help" });
  select.append(el("option", { value: "" }, "Server default (opsdeckd --check-interval)"));
  const values = INTERVALS.slice();
  if (typeof current === "number" && !values.includes(current)) values.push(current);
  values.sort((a, b) => a - b);
  for (const v of values) select.append(el("option", { value: String(v) }, "Every " + duration(v)));
  select.value = typeof current === "number" ? String(current) : "";
  const wrap = el(
    "div",
    { className: "field" },
    el("label", { for: id, text: "Check interval" }),
    select,
    el("p", { id: id + "-help", className: "help", text: "How often opsdeckd tests this service on its own." })
  );
  return { wrap, input: select, value: () => (select.value === "" ? null : Number(select.value)) };
}

// A checkbox with a label: {wrap, input}.
export function checkField(label, help, checked) {
  const id = "x" + ++uid;
  const input = el("input", { type: "checkbox", id, "aria-describedby": id + "-help" });
  input.checked = !!checked;
  const wrap = el(
    "div",
    { className: "field check" },
    input,
    el("label", { for: id, text: label }),
    el("p", { id: id + "-help", className: "help", text: help })
  );
  return { wrap, input };
}
