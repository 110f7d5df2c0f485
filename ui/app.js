// colts web UI: plain script, no build step. Talks to the JSON API of the same server.
// Everything from the server is inserted with textContent (never as HTML), with dir="auto" so that
// right-to-left text (Arabic, Hebrew, ...) is laid out by its own first strong character.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { indexes: [] };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  if (attrs && "text" in attrs && !("dir" in attrs)) e.setAttribute("dir", "auto");
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function token() {
  return $("token").value.trim();
}

async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token()) headers.authorization = "Bearer " + token();
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = data && data.error ? data.error : { code: "HTTP_" + res.status, message: res.statusText };
    if (res.status === 401) $("auth").open = true;
    throw Object.assign(new Error(err.message), { code: err.code });
  }
  return data;
}

function status(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function loadIndexes() {
  try {
    const { indexes } = await api("GET", "/indexes");
    state.indexes = indexes;
    const sel = $("index");
    sel.replaceChildren(...indexes.map((i) => el("option", { value: i.name, text: i.name })));
    showStats();
    status(indexes.length + " index(es) available.");
  } catch (e) {
    status("Could not list indexes: " + e.message + (e.code ? " [" + e.code + "]" : ""), true);
  }
}

function showStats() {
  const info = state.indexes.find((i) => i.name === $("index").value);
  const dl = $("stats");
  dl.replaceChildren();
  if (!info) return;
  const rows = [
    ["Documents (live)", info.liveDocuments.toLocaleString()],
    ["Documents (stored)", info.documents.toLocaleString()],
    ["Token vectors", info.vectors.toLocaleString()],
    ["Dimension", String(info.dim)],
    ["Centroids", info.centroids.toLocaleString()],
    ["Bits per dimension", String(info.nbits)],
    ["Model", info.model],
    ["Stored texts", info.hasText ? "yes" : "no"],
    ["Generation", String(info.generation)],
  ];
  for (const [k, v] of rows) dl.append(el("div", {}, el("dt", { text: k }), el("dd", { text: v })));
}

function metaLine(metadata) {
  if (!metadata) return null;
  const p = el("p", { class: "meta" });
  for (const [k, v] of Object.entries(metadata)) p.append(el("span", { text: k + ": " + (typeof v === "object" ? JSON.stringify(v) : String(v)) }));
  return p;
}

async function search(ev) {
  ev.preventDefault();
  const index = $("index").value;
  const query = $("q").value;
  const body = { query, k: Number($("k").value) || 10, retriever: $("retriever").value };
  if ($("filter").value.trim()) body.filter = $("filter").value.trim();
  status("Searching…");
  $("go").disabled = true;
  try {
    const { results, tookMs } = await api("POST", "/indexes/" + encodeURIComponent(index) + "/search", body);
    const hits = results[0] || [];
    renderHits(index, query, hits);
    status(hits.length + " result(s) in " + tookMs.toFixed(1) + " ms.");
  } catch (e) {
    $("results").replaceChildren();
    status("Search failed: " + e.message + (e.code ? " [" + e.code + "]" : ""), true);
  } finally {
    $("go").disabled = false;
  }
}

function renderHits(index, query, hits) {
  const ol = $("results");
  ol.replaceChildren();
  hits.forEach((h, i) => {
    const panelId = "explain-" + i;
    const btn = el("button", { type: "button", class: "secondary why", "aria-expanded": "false", "aria-controls": panelId, text: "Why this match?" });
    const panel = el("div", { id: panelId, class: "explain", hidden: "" });
    btn.addEventListener("click", () => toggleExplain(btn, panel, index, query, h.id));
    ol.append(
      el(
        "li",
        { class: "hit" },
        el("div", { class: "hit-head" }, el("span", { class: "hit-id", text: h.id }), el("span", { class: "score", text: "score " + h.score.toFixed(4) }), btn),
        metaLine(h.metadata),
        panel,
      ),
    );
  });
}

async function toggleExplain(btn, panel, index, query, id) {
  const open = btn.getAttribute("aria-expanded") === "true";
  btn.setAttribute("aria-expanded", String(!open));
  panel.hidden = open;
  if (open || panel.dataset.loaded) return;
  panel.textContent = "Explaining…";
  try {
    const { results } = await api("POST", "/indexes/" + encodeURIComponent(index) + "/search", { query, k: 1, retriever: "exact", ids: [id], explain: true });
    const hit = (results[0] || [])[0];
    if (!hit || !hit.explanation) throw new Error("this index stores no text for the document, so there is nothing to explain");
    renderExplanation(panel, hit);
    panel.dataset.loaded = "1";
  } catch (e) {
    panel.textContent = "No explanation: " + e.message;
  }
}

function heat(sim) {
  // Similarity (cosine, about -1..1) to a yellow-orange background; text stays dark for contrast.
  const t = Math.max(0, Math.min(1, sim));
  return "hsl(40, 100%, " + (96 - 46 * t).toFixed(0) + "%)";
}

function renderExplanation(panel, hit) {
  panel.replaceChildren();
  panel.append(el("p", { class: "legend", text: "Exact MaxSim " + hit.score.toFixed(4) + ": each query token adds the similarity of its best document token." }));
  const table = el("table", {}, el("caption", { class: "legend", text: "Query tokens and the document tokens they matched" }));
  table.append(el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Query token" }), el("th", { scope: "col", text: "Matched document token" }), el("th", { scope: "col", text: "Similarity" }))));
  const tbody = el("tbody");
  const best = new Map();
  for (const m of hit.explanation) {
    const isMask = m.queryToken === "[MASK]";
    const bar = el("span", { class: "bar", style: "width:" + Math.max(0, m.similarity * 6).toFixed(2) + "rem" });
    tbody.append(
      el("tr", { class: isMask ? "mask" : "" }, el("td", { text: m.queryToken }), el("td", { text: m.documentToken + " (#" + m.documentPosition + ")" }), el("td", { class: "num" }, m.similarity.toFixed(3) + " ", bar)),
    );
    const prev = best.get(m.documentPosition);
    if (prev === undefined || m.similarity > prev.sim) best.set(m.documentPosition, { sim: m.similarity, by: m.queryToken });
  }
  table.append(tbody);
  panel.append(table);
  const tokens = hit.documentTokens || [];
  const map = el("p", { class: "heat", dir: "auto", "aria-label": "Document tokens shaded by how strongly a query token matched them" });
  tokens.forEach((t, pos) => {
    const b = best.get(pos);
    const span = el("span", { class: "tok" + (b ? " hit" : ""), text: t });
    if (b) {
      span.style.background = heat(b.sim);
      span.title = "matched by “" + b.by + "”, similarity " + b.sim.toFixed(3);
    }
    map.append(span, " ");
  });
  panel.append(el("p", { class: "legend", text: "Document tokens (darker = matched more strongly):" }), map);
  if (hit.text) panel.append(el("p", { class: "legend", text: "Text: " + hit.text }));
}

document.addEventListener("DOMContentLoaded", () => {
  $("token").value = sessionStorage.getItem("colts-token") || "";
  $("token").addEventListener("change", () => {
    sessionStorage.setItem("colts-token", token());
    void loadIndexes();
  });
  $("index").addEventListener("change", showStats);
  $("search-form").addEventListener("submit", search);
  void loadIndexes();
});
