// The labelling page: shows the server's current item, sends decisions, skips and undos.
// Texts are untrusted: they reach the page only through renderMarkdown (textContent only) and
// textContent here; nothing is ever assigned to innerHTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get("token") || "";
  // One random token per tab, kept across reloads, so a reloaded tab gets its own item back
  // and undoes only its own decisions (no other page can guess it).
  let page = sessionStorage.getItem("judge-label-page");
  if (!page || page.length < 32) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    page = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    sessionStorage.setItem("judge-label-page", page);
  }
  let state = null;
  let shownAt = performance.now();
  let busy = false;

  async function call(method, path, body) {
    const headers = { "X-Token": token };
    if (body) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      body: body ? JSON.stringify({ page, ...body }) : undefined,
      cache: "no-store",
    });
    const data = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  function notice(message) {
    $("notice").textContent = message || "";
    $("notice").hidden = !message;
  }

  function duration(seconds) {
    if (seconds == null) return "–";
    const m = Math.round(seconds / 60);
    if (m < 1) return "under a minute";
    if (m < 60) return m + " min";
    return Math.floor(m / 60) + " h " + (m % 60) + " min";
  }

  function show(node, markdown) {
    node.replaceChildren(window.renderMarkdown(markdown));
  }

  function renderProgress(p) {
    const pct = p.total ? (100 * p.done) / p.total : 100;
    $("bar-fill").style.width = pct.toFixed(1) + "%";
    const parts = [p.done + " done", p.left + " left"];
    if (p.per_minute != null) parts.push(p.per_minute + " per min");
    if (p.left && p.eta_seconds != null) parts.push("about " + duration(p.eta_seconds) + " left");
    if (p.session) parts.push(p.session + " this session");
    if (p.skipped) parts.push(p.skipped + " skipped");
    $("progress-text").textContent = parts.join(" · ");
  }

  function renderAgreement(rows) {
    const box = $("agreement");
    box.hidden = !rows.length;
    box.textContent = rows
      .map((r) => {
        const k = r.kappa == null ? "–" : r.kappa.toFixed(2);
        return "vs " + r.annotator + ": κ " + k + ", " + Math.round(100 * r.same) + "% same (" + r.n + " items)";
      })
      .join(" · ");
    box.title = "Cohen's kappa with each other annotator on the items you both labelled";
  }

  function renderPrinciples(list, box) {
    box.replaceChildren();
    for (const p of list) {
      const div = document.createElement("div");
      div.className = "principle";
      const h = document.createElement("h4");
      h.textContent = p.title + " ";
      const scale = document.createElement("span");
      scale.className = "scale";
      scale.textContent = "(" + p.scale + ")";
      h.appendChild(scale);
      div.appendChild(h);
      const s = document.createElement("p");
      s.textContent = p.statement;
      div.appendChild(s);
      if (p.rubric.length) {
        const dl = document.createElement("dl");
        for (const [level, text] of p.rubric) {
          const dt = document.createElement("dt");
          dt.textContent = level;
          const dd = document.createElement("dd");
          dd.textContent = text;
          dl.append(dt, dd);
        }
        div.appendChild(dl);
      }
      box.appendChild(div);
    }
  }

  function renderRatingButtons(scale) {
    const box = $("rating-buttons");
    if (box.childElementCount) return;
    for (let v = scale[0]; v <= scale[1]; v++) {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.choice = String(v);
      if (scale[1] <= 9) {
        const k = document.createElement("kbd");
        k.textContent = String(v);
        b.appendChild(k);
      } else {
        b.textContent = String(v);
      }
      box.appendChild(b);
    }
  }

  // A conversation turn by turn, each with its role (from the data's role field, as text),
  // then a marker where the judged turn goes.
  function renderConversation(turns, pair) {
    const box = $("conversation");
    box.replaceChildren();
    for (const t of turns) {
      const turn = document.createElement("div");
      turn.className = "turn";
      turn.dataset.role = String(t.role);
      const role = document.createElement("div");
      role.className = "role";
      role.textContent = String(t.role);
      const body = document.createElement("div");
      show(body, String(t.content));
      turn.append(role, body);
      box.appendChild(turn);
    }
    const mark = document.createElement("div");
    mark.className = "turn judged";
    mark.textContent = pair
      ? "assistant · the judged turn: left or right, below"
      : "assistant · the judged turn, below";
    box.appendChild(mark);
  }

  function render(s) {
    state = s;
    const pair = s.kind === "pairwise";
    $("kind").textContent = pair ? "· pairwise" : "· rating " + s.scale[0] + "–" + s.scale[1];
    $("who").textContent = "· " + s.annotator;
    renderProgress(s.progress);
    renderAgreement(s.agreement);
    $("undo").disabled = !s.can_undo;
    const item = s.item;
    $("done").hidden = !!item;
    $("item").hidden = !item;
    $("pair-buttons").hidden = !pair || !item;
    $("rating-buttons").hidden = pair || !item;
    $("skip").disabled = !item;
    if (!pair) renderRatingButtons(s.scale);
    if (!item) {
      document.body.dataset.itemId = "";
      return;
    }
    $("item-id").textContent = "item " + item.id;
    const chat = Array.isArray(item.context) && item.context.length > 0;
    $("prompt-box").hidden = item.prompt == null && !chat;
    $("prompt-label").textContent = chat ? "Conversation" : "Prompt";
    $("prompt").hidden = chat;
    $("conversation").hidden = !chat;
    if (chat) renderConversation(item.context, pair);
    else show($("prompt"), item.prompt || "");
    $("reference-box").hidden = item.reference == null;
    show($("reference"), item.reference || "");
    $("pair").hidden = !pair;
    $("single").hidden = pair;
    const box = pair ? $("pair-principle-list") : $("principle-list");
    if (!box.childElementCount) renderPrinciples(s.principles, box);
    $("pair-principles").hidden = !pair || !s.principles.length;
    $("principles").hidden = pair || !s.principles.length;
    if (pair) {
      show($("left"), item.left);
      show($("right"), item.right);
    } else {
      $("response-label").textContent = item.document
        ? "Document"
        : chat ? "Assistant · the judged turn" : "Response";
      show($("response"), item.response);
    }
    window.scrollTo(0, 0);
    shownAt = performance.now();
    document.body.dataset.itemId = item.id; // last: tests wait for it
  }

  async function act(path, body) {
    if (busy) return;
    busy = true;
    let s;
    try {
      s = await call("POST", path, body);
    } catch (e) {
      notice("Not saved: " + e.message + ". Is the server still running?");
      return;
    } finally {
      busy = false;
    }
    notice(s.notice);
    render(s);
  }

  function flash(choice) {
    for (const b of document.querySelectorAll("[data-choice]")) {
      b.classList.toggle("flash", b.dataset.choice === choice);
    }
    setTimeout(() => {
      for (const b of document.querySelectorAll(".flash")) b.classList.remove("flash");
    }, 150);
  }

  function decide(choice) {
    if (!state || !state.item || busy) return;
    flash(choice);
    const seconds = (performance.now() - shownAt) / 1000;
    act("/api/decide", { id: state.item.id, choice, seconds });
  }

  function skip() {
    if (state && state.item) act("/api/skip", { id: state.item.id });
  }

  function undo() {
    act("/api/undo", {});
  }

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.repeat || !state) return;
    const key = e.key.toLowerCase();
    const pairKeys = { a: "left", b: "right", t: "tie" };
    if (key === "u") undo();
    else if (key === "s") skip();
    else if (state.kind === "pairwise" && pairKeys[key]) decide(pairKeys[key]);
    else if (state.kind !== "pairwise" && /^[0-9]$/.test(key)) {
      const v = parseInt(key, 10);
      if (v >= state.scale[0] && v <= state.scale[1] && state.scale[1] <= 9) decide(String(v));
    } else return;
    e.preventDefault();
  });

  document.addEventListener("click", (e) => {
    const button = e.target.closest("button");
    if (!button || button.disabled) return;
    if (button.dataset.choice) decide(button.dataset.choice);
    else if (button.id === "skip") skip();
    else if (button.id === "undo") undo();
  });

  // Another page or annotator may have moved on: refresh the counts when the tab comes back.
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !busy) load();
  });

  async function load() {
    let s;
    try {
      s = await call("POST", "/api/state", {}); // a POST: showing an item reserves it
    } catch (e) {
      notice("Cannot reach the server: " + e.message);
      return;
    }
    render(s);
  }

  load();
})();
