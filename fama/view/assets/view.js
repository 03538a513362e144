"use strict";
// FAMA run viewer: renders the embedded page model; an episode's detail is loaded on demand
// from the data folder beside the page (a script per chunk of episodes calling
// famaViewChunk). Every value from the run is inserted as text (textContent / text nodes),
// never as HTML.
(function () {
  const data = JSON.parse(document.getElementById("fama-data").textContent);
  const episodes = data.episodes;
  const MAX_DETAILS = 1000; // loaded episode details kept; beyond that the cache starts over
  const details = new Map(); // episode index -> detail
  const loading = new Map(); // chunk number -> Promise
  const NO_LABEL = "\u0000none";
  const ROLE_NAMES = { assistant: "Agent", user: "User", tool: "Tool result", system: "System" };

  // Replace el's children; strings become text nodes, null/undefined/false are skipped.
  function fill(el, ...children) {
    el.replaceChildren();
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    return fill(el, ...children);
  }

  function fmt(value, digits) {
    if (value === null || value === undefined) return "–";
    if (typeof value === "number") {
      if (Number.isInteger(value)) return String(value);
      return value.toFixed(digits === undefined ? 3 : digits);
    }
    if (typeof value === "boolean") return value ? "yes" : "no";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function pretty(value) {
    return typeof value === "string" ? value : JSON.stringify(value, null, 2);
  }

  function dl(cls, pairs) {
    return h("dl", { class: cls },
      pairs.filter((p) => p[1] !== null && p[1] !== undefined && p[1] !== "")
        .map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, fmt(v)))));
  }

  function jsonDetails(title, value) {
    return h("details", { class: "json" }, h("summary", null, title), h("pre", null, pretty(value)));
  }

  function outcomeBadge(outcome) {
    return h("span", { class: "badge " + outcome }, outcome);
  }

  // Category ids as chips, breakable after underscores; the first one is the primary.
  function chips(categories) {
    return categories.map((c, i) => h("span", { class: i === 0 ? "chip primary" : "chip" },
      c.split("_").map((part, j, all) => (j < all.length - 1 ? [part + "_", h("wbr")] : part))));
  }

  // ------------------------------------------------------------------ header and summary

  function renderHeader() {
    const run = data.run;
    document.getElementById("run-id").textContent = run.run_id;
    const status = document.getElementById("run-status");
    status.textContent = run.status;
    fill(document.getElementById("run-fields"),
      ...run.fields.map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, fmt(v)))),
      h("div", null, h("dt", null, "Created"), h("dd", null, run.created_at)));
    const prompts = h("table", null,
      h("thead", null, h("tr", null, h("th", null, "Prompt"), h("th", null, "Version"),
        h("th", null, "sha256"))),
      h("tbody", null, run.prompts.map((p) => h("tr", null, h("td", null, p.name),
        h("td", null, p.version), h("td", null, h("code", null, String(p.sha256 || "").slice(0, 16)))))));
    fill(document.getElementById("run-more-body"),
      run.command ? h("pre", null, run.command) : null,
      prompts, jsonDetails("Full run configuration (JSON)", run.config));
    const s = data.summary;
    const stats = [
      ["Episodes", s.episodes], ["Tasks", s.tasks], ["Passed", s.passed], ["Failed", s.failed],
      ["Errors", s.errors], ["Avg reward", s.avg_reward],
      ...Object.entries(s.pass_hat_k).map(([k, v]) => ["pass^" + k, v]),
      ["Labelled", s.labelled], ["FAMA decisions", s.fama_decisions],
      ["Tokens in", s.input_tokens], ["Tokens out", s.output_tokens],
    ];
    fill(document.getElementById("summary"),
      ...stats.map(([k, v]) => h("div", { class: "stat" }, h("b", null, fmt(v)), h("span", null, k))));
  }

  // ------------------------------------------------------------------ list and filters

  const filters = {
    failed: document.getElementById("f-failed"),
    category: document.getElementById("f-category"),
    domain: document.getElementById("f-domain"),
    task: document.getElementById("f-task"),
  };
  const rows = [];
  let selected = null;

  function fillSelect(select, allText, counts, extra) {
    fill(select, h("option", { value: "" }, allText),
      ...Object.entries(counts).map(([v, n]) => h("option", { value: v }, `${v} (${n})`)),
      ...(extra || []));
  }

  function countBy(values) {
    const counts = {};
    for (const v of values) counts[v] = (counts[v] || 0) + 1;
    return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  function renderList() {
    const unlabelled = episodes.filter((e) => !e.categories.length).length;
    fillSelect(filters.category, "All categories", countBy(episodes.flatMap((e) => e.categories)),
      [h("option", { value: NO_LABEL }, `no label (${unlabelled})`)]);
    fillSelect(filters.domain, "All domains", countBy(episodes.map((e) => e.domain)));
    const body = document.querySelector("#episodes tbody");
    for (const ep of episodes) {
      const row = h("tr", {
        class: "episode-row", tabindex: "0", "data-index": ep.index,
        onclick: () => openEpisode(ep.index),
        onkeydown: (ev) => { if (ev.key === "Enter") openEpisode(ep.index); },
      },
      h("td", { class: "task" }, ep.task_id), h("td", null, ep.trial), h("td", null, ep.domain),
      h("td", null, outcomeBadge(ep.outcome), h("span", { class: "term" }, ep.termination || ep.status)),
      h("td", null, fmt(ep.reward, 2)),
      h("td", { class: "labels-cell" }, chips(ep.categories)));
      rows.push(row);
      body.append(row);
    }
    for (const el of Object.values(filters)) {
      el.addEventListener("input", applyFilters);
      el.addEventListener("change", applyFilters);
    }
    document.getElementById("filters").addEventListener("submit", (ev) => ev.preventDefault());
    applyFilters();
  }

  function matches(ep) {
    if (filters.failed.checked && ep.outcome === "passed") return false;
    const category = filters.category.value;
    if (category === NO_LABEL && ep.categories.length) return false;
    if (category && category !== NO_LABEL && !ep.categories.includes(category)) return false;
    if (filters.domain.value && ep.domain !== filters.domain.value) return false;
    const text = filters.task.value.trim().toLowerCase();
    return !text || ep.task_id.toLowerCase().includes(text);
  }

  function applyFilters() {
    let shown = 0;
    for (const ep of episodes) {
      const visible = matches(ep);
      rows[ep.index].hidden = !visible;
      shown += visible;
    }
    const failed = episodes.filter((e) => e.outcome !== "passed").length;
    const sel = data.selection;
    const listed = sel.listed < data.summary.episodes
      ? `; this page lists ${sel.listed} of the run's ${data.summary.episodes}` +
        (sel.failed_only ? ", not passed only" : "") + (sel.limit !== null ? `, at most ${sel.limit}` : "")
      : "";
    document.getElementById("f-count").textContent =
      `Showing ${shown} of ${episodes.length} episodes (${failed} not passed)${listed}`;
  }

  // ------------------------------------------------------------------ episode data on demand

  window.famaViewChunk = function (list) {
    if (details.size + list.length > MAX_DETAILS) details.clear();
    for (const ep of list) details.set(ep.index, ep);
  };

  function chunkFile(index) {
    const number = Math.floor(index / data.data.chunk);
    return [number, `${data.data.dir}/episodes-${String(number).padStart(5, "0")}.js`];
  }

  // The detail of episode `index`, once the chunk holding it has run; rejects if the chunk
  // cannot be loaded or lacks the episode (a later call loads it again).
  function loadChunk(index) {
    const [number, src] = chunkFile(index);
    if (!loading.has(number)) {
      loading.set(number, new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = src;
        script.onload = () => { script.remove(); resolve(); };
        script.onerror = () => { script.remove(); loading.delete(number); reject(new Error(src)); };
        document.head.append(script);
      }));
    }
    return loading.get(number).then(() => {
      if (details.has(index)) return details.get(index);
      loading.delete(number); // evicted from the cache, or absent: the caller may load again
      throw new Error(`episode ${index} is not in ${src}`);
    });
  }

  // ------------------------------------------------------------------ episode detail

  function openEpisode(index) {
    const row = episodes[index];
    if (!row) return;
    if (selected !== null) rows[selected].classList.remove("selected");
    selected = index;
    rows[index].classList.add("selected");
    if (location.hash !== "#episode-" + index) history.replaceState(null, "", "#episode-" + index);
    const detail = document.getElementById("detail");
    delete detail.dataset.shown;
    const show = (...parts) => {
      if (selected !== index) return; // another episode was opened meanwhile
      fill(detail, ...parts);
      detail.dataset.shown = String(index);
      detail.scrollIntoView({ block: "start" });
    };
    if (details.has(index)) { show(renderEpisode(details.get(index))); return; }
    fill(detail, h("p", { class: "placeholder" }, `Loading ${row.task_id} · trial ${row.trial}…`));
    let attempts = 0;
    const attempt = () => loadChunk(index).then((ep) => show(renderEpisode(ep)), () => {
      attempts += 1;
      if (attempts < 2) return attempt();
      show(h("div", { class: "error-box" }, h("pre", null,
        `Could not load ${chunkFile(index)[1]}: keep the folder ${data.data.dir} next to this page.`)));
    });
    attempt();
  }

  function showMessage(index) {
    const el = document.getElementById("m-" + index);
    if (!el) return;
    el.scrollIntoView({ block: "center" });
    el.classList.add("flash");
    setTimeout(() => el.classList.remove("flash"), 1500);
  }

  function stepLink(index) {
    return h("button", { type: "button", class: "steplink", onclick: () => showMessage(index) }, "#" + index);
  }

  function renderEpisode(ep) {
    const u = ep.usage;
    const parts = [
      h("div", { class: "detail-head" },
        h("h2", null, `${ep.task_id} · trial ${ep.trial}`), outcomeBadge(ep.outcome),
        h("span", { class: "badge" }, ep.domain)),
      dl("facts", [
        ["Reward", ep.reward], ["Status", ep.status], ["Termination", ep.termination],
        ["Steps", ep.steps], ["Tool errors", ep.tool_errors], ["Duration (s)", ep.duration_s],
        ["LLM calls", u.llm_calls], ["Tokens in", u.input_tokens], ["Tokens out", u.output_tokens],
        ["LLM latency (ms)", u.llm_latency_ms === null ? null : Math.round(u.llm_latency_ms)], ["Agent", ep.agent_kind], ["Split", ep.split],
        ["Started", ep.started_at],
      ]),
    ];
    if (ep.error_detail) parts.push(h("div", { class: "error-box" }, h("pre", null, ep.error_detail)));
    parts.push(h("h3", null, "Failure labels"), renderLabels(ep));
    parts.push(h("h3", null, "Reward"), renderReward(ep.reward, ep.reward_info));
    parts.push(h("h3", null, "Conversation"), ...renderConversation(ep));
    parts.push(h("h3", null, "Usage"), renderUsage(u));
    if (Object.keys(ep.extra).length) parts.push(jsonDetails("Other episode data (JSON)", ep.extra));
    return parts;
  }

  function renderLabels(ep) {
    if (!ep.labels.length) return h("p", { class: "empty" }, "No failure labels (run fama analyze).");
    return h("div", { class: "labels" }, ep.labels.map((l) => h("div", { class: "label" },
      h("div", null, h("span", { class: l.primary ? "chip primary" : "chip" }, l.category), " ",
        l.primary ? "primary" : "secondary", " · source ", l.source,
        l.evidence_steps.length ? [" · evidence ", l.evidence_steps.map(stepLink)] : null),
      l.rationale ? h("p", null, l.rationale) : null)));
  }

  function renderReward(reward, info) {
    const components = Object.entries(info.components || {});
    return h("div", { class: "reward" },
      dl("facts", [["Reward", reward], ["Basis", (info.reward_basis || []).join(", ")],
        ["NL judge skipped", info.nl_judge_skipped]]),
      components.length ? h("table", { class: "components" },
        h("thead", null, h("tr", null, h("th", null, "Component"), h("th", null, "Value"),
          h("th", null, "In basis"))),
        h("tbody", null, components.map(([name, value]) => h("tr", null, h("td", null, name),
          h("td", { class: "num" }, fmt(value)),
          h("td", null, (info.reward_basis || []).includes(name) ? "yes" : "no"))))) : null,
      info.details && Object.keys(info.details).length ? jsonDetails("Reward details (JSON)", info.details) : null,
      !Object.keys(info).length ? h("p", { class: "empty" }, "Not scored.") : null);
  }

  function renderConversation(ep) {
    const decisions = new Map();
    const issues = new Map();
    const push = (map, key, item) => { if (!map.has(key)) map.set(key, []); map.get(key).push(item); };
    for (const d of ep.fama_decisions) push(decisions, d.message_index, d);
    for (const i of ep.agent_issues) push(issues, i.message_index, i);
    const showFama = h("input", { type: "checkbox", id: "show-fama", checked: true });
    const conv = h("div", { class: "conversation" });
    showFama.addEventListener("change", () => {
      for (const el of conv.querySelectorAll(".decision")) el.hidden = !showFama.checked;
    });
    const n = ep.messages.length;
    const before = (index) => [
      ...(issues.get(index) || []).map(renderIssue),
      ...(decisions.get(index) || []).map(renderDecision),
    ];
    for (const m of ep.messages) conv.append(...before(m.index), renderMessage(m));
    const later = [...new Set([...decisions.keys(), ...issues.keys()])].filter((k) => k >= n).sort((a, b) => a - b);
    for (const index of later) conv.append(...before(index));
    const toggles = ep.fama_decisions.length
      ? h("div", { class: "toggles" }, h("label", null, showFama, ` Show FAMA decisions (${ep.fama_decisions.length})`))
      : null;
    return [toggles, n ? conv : h("p", { class: "empty" }, "No messages.")];
  }

  function renderIssue(issue) {
    return h("div", { class: "issue" }, h("b", null, "Agent issue: " + issue.kind), " (", issue.node, ") ", issue.detail);
  }

  function renderDecision(d) {
    const diag = d.diagnosis || {};
    const guidance = d.guidance || [];
    const summary = `FAMA decision ${fmt(diag.decision)} · ${d.mode} · ` +
      (d.active_helpers.length ? `helpers: ${d.active_helpers.join(", ")}` : "no helpers") +
      ` · ${guidance.length} guidance note${guidance.length === 1 ? "" : "s"}`;
    const signals = diag.signals || [];
    const blocks = diag.verifier_blocks || [];
    return h("details", { class: "decision", open: true },
      h("summary", null, summary),
      signals.length ? h("div", null, "Signals: ", h("ul", null, signals.map((s) =>
        h("li", null, `${s.name} → ${s.category} (${s.helper})`)))) : null,
      diag.categories && diag.categories.length ? h("div", null, "Categories at risk: ", chips(diag.categories)) : null,
      diag.drivers && Object.keys(diag.drivers).length ? h("div", null, "Chosen for: ", h("ul", null,
        Object.entries(diag.drivers).map(([helper, cats]) => h("li", null, `${helper} ← `, chips(cats))))) : null,
      diag.write_gate ? h("div", null, `Write gate: ${diag.write_gate}`) : null,
      diag.verifier_checks ? h("div", null, `Verifier checks: ${diag.verifier_checks}`,
        blocks.length ? h("ul", null, blocks.map((b) => h("li", null, `blocked (${b.check}): ${b.problem}`))) : null) : null,
      guidance.map((g) => g.error
        ? h("div", { class: "guidance failed" }, h("b", null, g.helper), " failed (decision made without it): ", g.error)
        : h("div", { class: "guidance" }, h("b", null, g.helper), h("pre", null, g.text))));
  }

  function renderMessage(m) {
    const head = h("div", { class: "msg-head" },
      h("span", { class: "idx" }, "#" + m.index), h("span", { class: "who" }, ROLE_NAMES[m.role] || m.role));
    if (m.role === "tool") {
      head.append(h("span", { class: "tag" }, m.name || "?"));
      if (m.requestor === "user") head.append(h("span", { class: "tag" }, "requested by user"));
      if (m.error) head.append(h("span", { class: "tag err" }, "error"));
      if (m.call_index !== null) head.append(h("span", null, "for call ", stepLink(m.call_index)));
      else head.append(h("span", null, "unmatched call id " + m.tool_call_id));
    } else if (m.requestor) {
      head.append(h("span", { class: "tag" }, "requestor " + m.requestor));
    }
    const cls = ["msg", m.role, m.role === "tool" && m.error ? "err" : ""].join(" ").trim();
    return h("div", { class: cls, id: "m-" + m.index },
      head,
      m.content ? renderContent(m) : null,
      (m.tool_calls || []).map((c) => renderCall(c, m.role === "user")),
      (m.invalid_tool_calls || []).map(renderInvalidCall));
  }

  // Message text; a tool result holding a JSON object or array is shown indented.
  function renderContent(m) {
    const text = m.content.trim();
    if (m.role === "tool" && (text.startsWith("{") || text.startsWith("["))) {
      try {
        return h("pre", { class: "content json-result" }, JSON.stringify(JSON.parse(text), null, 2));
      } catch (err) {
        // not JSON: shown as it is
      }
    }
    return h("div", { class: "content" }, m.content);
  }

  function resultStatus(call) {
    if (call.result_index === null) return h("span", { class: "status bad" }, "no result");
    return h("span", null, "→ result ", stepLink(call.result_index), " ",
      call.result_error ? h("span", { class: "status bad" }, "error") : h("span", { class: "status ok" }, "ok"));
  }

  function renderCall(call, byUser) {
    return h("div", { class: "call" },
      h("div", null, byUser ? h("span", { class: "tag" }, "user tool call") : null, " ",
        h("span", { class: "name" }, call.name), " ", h("code", null, call.id), " ", resultStatus(call)),
      h("pre", null, pretty(call.arguments)));
  }

  function renderInvalidCall(call) {
    return h("div", { class: "call invalid" },
      h("div", null, h("span", { class: "tag err" }, "invalid tool call"), " ",
        h("span", { class: "name" }, call.name || "?"), " ", resultStatus(call)),
      h("pre", null, pretty(call.arguments)),
      call.error ? h("div", null, "Parse error: ", call.error) : null);
  }

  function renderUsage(u) {
    const nodes = Object.entries(u.by_node);
    const timings = Object.entries(u.node_timings);
    return h("div", { class: "usage" },
      nodes.length ? h("table", null,
        h("thead", null, h("tr", null, ...["LLM node", "Calls", "Tokens in", "Tokens out", "Latency (ms)", "Model"]
          .map((t) => h("th", null, t)))),
        h("tbody", null, nodes.map(([node, r]) => h("tr", null, h("td", null, node),
          h("td", { class: "num" }, r.calls), h("td", { class: "num" }, r.input_tokens),
          h("td", { class: "num" }, r.output_tokens), h("td", { class: "num" }, fmt(r.latency_ms, 1)),
          h("td", null, r.models.join(", ")))))) : h("p", { class: "empty" }, "No LLM calls recorded."),
      timings.length ? h("table", null,
        h("thead", null, h("tr", null, ...["Graph node", "Runs", "Total (ms)"].map((t) => h("th", null, t)))),
        h("tbody", null, timings.map(([node, r]) => h("tr", null, h("td", null, node),
          h("td", { class: "num" }, r.count), h("td", { class: "num" }, fmt(r.total_ms, 1)))))) : null);
  }

  // ------------------------------------------------------------------ start

  function fromHash() {
    const match = /^#episode-(\d+)$/.exec(location.hash);
    if (match) openEpisode(Number(match[1]));
  }

  renderHeader();
  renderList();
  window.addEventListener("hashchange", fromHash);
  fromHash();
  document.body.dataset.ready = "true";
})();
