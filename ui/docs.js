// Interactive API docs: reads /openapi.json and renders a "try it" form per operation. No CDN.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function headers(json) {
  const h = { accept: "application/json" };
  if (json) h["content-type"] = "application/json";
  const t = $("token").value.trim();
  if (t) h.authorization = "Bearer " + t;
  return h;
}

function example(schema) {
  if (!schema || typeof schema !== "object") return null;
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  if (schema.default !== undefined) return schema.default;
  if (schema.oneOf) return example(schema.oneOf[0]);
  if (schema.enum) return schema.enum[0];
  switch (schema.type) {
    case "object": {
      const o = {};
      for (const k of schema.required || Object.keys(schema.properties || {}).slice(0, 2)) o[k] = example((schema.properties || {})[k]);
      return o;
    }
    case "array": return [example(schema.items)];
    case "string": return "text";
    case "integer": return 10;
    case "number": return 0.5;
    case "boolean": return false;
    default: return null;
  }
}

function operation(template, method, op, n, indexName) {
  const path = indexName ? template.replace("{name}", indexName) : template;
  const id = "op" + n;
  const body = op.requestBody ? op.requestBody.content["application/json"].schema : null;
  const pathInput = el("input", { id: id + "-path", type: "text", value: path, size: "40" });
  const bodyInput = body ? el("textarea", { id: id + "-body", rows: "6", cols: "70" }) : null;
  if (bodyInput) bodyInput.value = JSON.stringify(example(body), null, 2);
  const out = el("pre", { id: id + "-out", "aria-live": "polite" });
  const send = el("button", { type: "button", text: "Send" });
  send.addEventListener("click", async () => {
    out.textContent = "…";
    try {
      const res = await fetch(pathInput.value, { method: method.toUpperCase(), headers: headers(Boolean(bodyInput)), body: bodyInput ? bodyInput.value : undefined });
      const text = await res.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch { /* not JSON (metrics) */ }
      out.textContent = res.status + " " + res.statusText + "\n" + shown.slice(0, 20000);
    } catch (e) {
      out.textContent = "request failed: " + e.message;
    }
  });
  return el(
    "section",
    { "aria-labelledby": id + "-h" },
    el("h2", { id: id + "-h", text: method.toUpperCase() + " " + template }),
    el("p", { text: op.summary || "" }),
    el("label", { for: id + "-path", text: "Path" }), el("br"), pathInput, el("br"),
    bodyInput ? el("label", { for: id + "-body", text: "JSON body" }) : null, bodyInput ? el("br") : null, bodyInput, bodyInput ? el("br") : null,
    send,
    body ? el("details", {}, el("summary", { text: "Body schema" }), el("pre", { text: JSON.stringify(body, null, 2) })) : null,
    out,
  );
}

async function load() {
  try {
    const res = await fetch("/openapi.json", { headers: headers(false) });
    if (res.status === 401) $("auth").open = true;
    if (!res.ok) throw new Error("HTTP " + res.status + (res.status === 401 ? " (enter the access token above)" : ""));
    const doc = await res.json();
    // Fill {name} with the first served index so that the examples can be sent as they are.
    const list = await fetch("/indexes", { headers: headers(false) }).then((r) => (r.ok ? r.json() : { indexes: [] }));
    const indexName = list.indexes.length ? list.indexes[0].name : null;
    const ops = [];
    let n = 0;
    for (const [path, methods] of Object.entries(doc.paths)) for (const [m, op] of Object.entries(methods)) ops.push(operation(path, m, op, n++, indexName));
    $("ops").replaceChildren(...ops);
    $("status").textContent = ops.length + " operations.";
  } catch (e) {
    $("status").textContent = "Could not load /openapi.json: " + e.message;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("token").value = sessionStorage.getItem("colts-token") || "";
  $("token").addEventListener("change", () => { sessionStorage.setItem("colts-token", $("token").value.trim()); void load(); });
  void load();
});
