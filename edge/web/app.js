// The learner's page: register, sign in, read problems, run code on the samples, submit, watch
// the verdict arrive live, read the feedback, past submissions and comments. Plain browser
// JavaScript against the documented API (/api/openapi.json); no build step.
"use strict";

const $ = (selector) => document.querySelector(selector);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
};

// ---- session -------------------------------------------------------------------------------

const session = {
  get access() { return sessionStorage.getItem("access"); },
  get refresh() { return sessionStorage.getItem("refresh"); },
  get user() { return JSON.parse(sessionStorage.getItem("user") || "null"); },
  save(pair) {
    sessionStorage.setItem("access", pair.access_token);
    sessionStorage.setItem("refresh", pair.refresh_token);
  },
  remember(user) { sessionStorage.setItem("user", JSON.stringify(user)); },
  clear() { sessionStorage.clear(); },
};

/** Calls the API; refreshes the access token once on a 401. Throws the problem document. */
async function api(method, path, body, { retry = true, raw = false } = {}) {
  const headers = {};
  if (session.access) headers.authorization = `Bearer ${session.access}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401 && retry && session.refresh) {
    const refreshed = await fetch("/api/auth/refresh", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refresh_token: session.refresh }),
    });
    if (refreshed.ok) {
      session.save(await refreshed.json());
      return api(method, path, body, { retry: false, raw });
    }
    session.clear();
    showAccount();
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw data || { title: `${response.status} ${response.statusText}` };
  return data;
}

function notice(problem) {
  const box = $("#notice");
  if (!problem) { box.hidden = true; return; }
  const fields = (problem.errors || []).map((e) => `${e.field} ${e.message}`).join("; ");
  box.textContent = [problem.title, problem.detail, fields].filter(Boolean).join(": ");
  box.hidden = false;
}

// ---- account -------------------------------------------------------------------------------

function showAccount() {
  const user = session.user;
  $("#whoami").textContent = user ? `Signed in as ${user.username}` : "";
  $("#logout").hidden = !user;
  $("#auth").hidden = Boolean(user);
  for (const id of ["#run", "#submit"]) $(id).disabled = !user;
  $("#comment-form").hidden = !user;
}

async function signIn(username, password) {
  session.save(await api("POST", "/api/auth/login", { username, password }));
  session.remember(await api("GET", "/api/auth/me"));
  showAccount();
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = new FormData(event.target);
  try { notice(null); await signIn(f.get("username"), f.get("password")); route(); }
  catch (problem) { notice(problem); }
});

$("#register-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = new FormData(event.target);
  const errors = event.target.querySelector(".errors");
  errors.replaceChildren();
  try {
    notice(null);
    await api("POST", "/api/auth/register", { username: f.get("username"), email: f.get("email"), password: f.get("password") });
    await signIn(f.get("username"), f.get("password"));
    route();
  } catch (problem) {
    for (const e of problem.errors || []) errors.append(el("li", { text: `${e.field}: ${e.message}` }));
    notice(problem);
  }
});

$("#logout").addEventListener("click", async () => {
  if (session.refresh) await api("POST", "/api/auth/logout", { refresh_token: session.refresh }).catch(() => {});
  session.clear();
  showAccount();
});

// ---- statements ----------------------------------------------------------------------------

/** Typesets $…$ and $$…$$ in `node` with KaTeX. */
function typeset(node) {
  if (window.renderMathInElement) {
    window.renderMathInElement(node, {
      delimiters: [
        { left: "$$", right: "$$", display: true },
        { left: "$", right: "$", display: false },
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true },
      ],
      throwOnError: false,
    });
  }
}

/** The common part of problem statements written in LaTeX, as HTML; math is left to KaTeX. */
function latexToHtml(tex) {
  const escape = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  let html = escape(tex)
    .replace(/%[^\n]*/g, "")
    .replace(/\\problemname\{([^}]*)\}/g, "")
    .replace(/\\(sub)*section\*?\{([^}]*)\}/g, (_, sub, title) => `<h${sub ? 5 : 4}>${title}</h${sub ? 5 : 4}>`)
    .replace(/\\begin\{(itemize|enumerate)\}/g, (_, k) => (k === "itemize" ? "<ul>" : "<ol>"))
    .replace(/\\end\{(itemize|enumerate)\}/g, (_, k) => (k === "itemize" ? "</ul>" : "</ol>"))
    .replace(/\\item\s*/g, "<li>")
    .replace(/\\(textbf|emph|textit|texttt)\{([^}]*)\}/g, (_, k, t) => ({ textbf: `<strong>${t}</strong>`, emph: `<em>${t}</em>`, textit: `<em>${t}</em>`, texttt: `<code>${t}</code>` }[k]))
    .replace(/\\begin\{verbatim\}([\s\S]*?)\\end\{verbatim\}/g, "<pre>$1</pre>")
    .replace(/``|''/g, '"');
  return html.split(/\n\s*\n/).map((p) => (/^\s*<(h\d|ul|ol|pre)/.test(p) ? p : `<p>${p}</p>`)).join("\n");
}

function renderStatement(problem) {
  const box = $("#statement");
  box.replaceChildren();
  const statements = problem.statements || [];
  const statement = statements.find((s) => s.language === "en") || statements[0];
  if (!statement) { box.append(el("p", { class: "muted", text: "This problem has no statement." })); return; }
  if (statement.format === "pdf") {
    const url = `/api/problems/${encodeURIComponent(problem.id)}/statement`;
    box.append(el("object", { data: url, type: "application/pdf", class: "statement-pdf", "aria-label": "Statement (PDF)" },
      el("a", { href: url, text: "Open the statement (PDF)" })));
    return;
  }
  if (statement.format === "text") {
    box.append(el("pre", { class: "statement-text", text: statement.content }));
    return;
  }
  let html;
  if (statement.format === "markdown") html = window.marked ? window.marked.parse(statement.content) : statement.content;
  else if (statement.format === "latex") html = latexToHtml(statement.content);
  else html = statement.content;
  box.innerHTML = window.DOMPurify ? window.DOMPurify.sanitize(html) : "";
  typeset(box);
}

// ---- problems ------------------------------------------------------------------------------

let current = null; // the problem on screen
let languages = [];

async function loadProblems() {
  const list = $("#problem-list");
  const { items } = await api("GET", "/api/problems");
  list.replaceChildren(...items.map((p) => el("li", {}, el("a", { href: `#/problems/${encodeURIComponent(p.id)}`, "data-id": p.id, text: p.name }))));
}

async function loadLanguages() {
  languages = (await api("GET", "/api/languages")).items;
  const select = $("#language");
  const chosen = select.value || localStorage.getItem("language");
  select.replaceChildren(...languages.map((l) => el("option", { value: l.id, text: `${l.name} (${l.version})` })));
  if (chosen && languages.some((l) => l.id === chosen)) select.value = chosen;
}

async function showProblem(id) {
  const problem = await api("GET", `/api/problems/${encodeURIComponent(id)}`);
  current = problem;
  for (const a of document.querySelectorAll("#problem-list a")) {
    if (a.dataset.id === id) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  $("#problem").hidden = false;
  $("#problem-title").textContent = problem.name;
  const l = problem.limits;
  $("#limits").textContent = `Time limit ${l.time_limit_ms / 1000} s · memory ${Math.round(l.memory_bytes / 1048576)} MiB`;
  renderStatement(problem);
  const samples = $("#samples");
  samples.replaceChildren(...(problem.samples || []).map((s) => el("div", { class: "sample" },
    el("div", {}, el("h4", { text: `Input (${s.name})` }), el("pre", { class: "io", text: s.input })),
    el("div", {}, el("h4", { text: "Output" }), el("pre", { class: "io", text: s.answer })))));
  $("#verdict").replaceChildren();
  $("#run-result").replaceChildren();
  await Promise.all([loadMine(), loadComments(), loadLanguages()]);
}

// ---- runs and submissions ------------------------------------------------------------------

const accepted = (v) => v === "accepted";
const verdictText = (v) => (v || "").replace(/_/g, " ");

function outcomeTable(tests) {
  const rows = (tests || []).map((t) => el("tr", {},
    el("td", { text: t.name }),
    el("td", { class: accepted(t.verdict) ? "verdict-accepted" : "verdict-rejected", text: verdictText(t.verdict) }),
    el("td", { text: `${t.time_ms} ms` }), el("td", { text: `${t.memory_kb} KB` }), el("td", { text: t.detail || "" })));
  return el("table", {}, el("thead", {}, el("tr", {}, ...["Test", "Verdict", "Time", "Memory", "Detail"].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ...rows));
}

/** An `Output` ({text, truncated}) as text, saying when it was cut. */
function outputText(o) {
  if (!o) return "";
  return (o.text || "") + (o.truncated ? "\n… (cut)" : "");
}

/** What a failing sample test showed: input, expected and received output (first difference marked). */
function feedbackView(test) {
  const f = test.feedback;
  if (!f) return null;
  const diff = f.first_difference ? f.first_difference.line : null;
  const got = el("pre", { class: "io" });
  const lines = outputText(f.got).split("\n");
  lines.forEach((line, i) => {
    const span = el("span", { text: line + (i + 1 < lines.length ? "\n" : "") });
    if (diff && i + 1 === diff) span.className = "diff-line";
    got.append(span);
  });
  const exit = test.signal ? `killed by signal ${test.signal}` : (test.exit_code ? `exit code ${test.exit_code}` : null);
  return el("div", { class: "feedback", "data-testid": "feedback" },
    el("h4", { text: `Why ${test.name} failed` }),
    el("div", { class: "sample" },
      el("div", {}, el("h5", { text: "Input" }), el("pre", { class: "io", text: outputText(f.input) })),
      el("div", {}, el("h5", { text: "Expected" }), el("pre", { class: "io", text: outputText(f.expected) }))),
    el("h5", { text: diff ? `Your output (first difference on line ${diff})` : "Your output" }), got,
    exit ? el("p", { text: exit }) : "",
    test.stderr ? el("div", {}, el("h5", { text: "Standard error" }), el("pre", { class: "io", text: test.stderr })) : "");
}

function showVerdict(s) {
  const box = $("#verdict");
  if (s.status !== "judged") {
    const progress = s.progress ? ` (test ${s.progress.test} of ${s.progress.of})` : "";
    box.replaceChildren(el("p", { text: `${s.status}${progress}…` }));
    return;
  }
  const parts = [el("p", {}, "Verdict: ",
    el("span", { class: accepted(s.verdict) ? "verdict-accepted" : "verdict-rejected", text: verdictText(s.verdict) }),
    ` · ${s.run_time_ms} ms · ${s.memory_kb} KB`)];
  if (s.score !== undefined && s.score !== null) parts.push(el("p", { text: `Score ${s.score} of ${s.max_score}` }));
  if (s.groups && s.groups.length) {
    parts.push(el("ul", { class: "groups" }, ...s.groups.map((g) => el("li", {},
      `${g.name}: ${g.score} of ${g.max_score} · `,
      el("span", { class: accepted(g.verdict) ? "verdict-accepted" : "verdict-rejected", text: verdictText(g.verdict) }),
      ` (${g.accepted_tests}/${g.tests} tests)`))));
  }
  if (s.compile_output) parts.push(el("h4", { text: "Compiler output" }), el("pre", { class: "io", text: s.compile_output }));
  if (s.tests && s.tests.length) parts.push(outcomeTable(s.tests));
  for (const t of s.tests || []) { const f = feedbackView(t); if (f) parts.push(f); }
  box.replaceChildren(...parts);
}

/** Follows a submission's event stream (fetch, so the token can go in a header). */
async function follow(id) {
  const response = await api("GET", `/api/submissions/${id}/events`, undefined, { raw: true });
  if (!response.ok) throw await response.json();
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let state = {};
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (!data) continue;
      state = { ...state, ...JSON.parse(data) };
      showVerdict(state);
    }
  }
  return state;
}

$("#code-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!current) return;
  const language = $("#language").value;
  localStorage.setItem("language", language);
  try {
    notice(null);
    const created = await api("POST", "/api/submissions", { problem_id: current.id, language, source: $("#source").value });
    showVerdict({ status: created.status });
    await follow(created.id);
    await loadMine();
  } catch (problem) { notice(problem); }
});

$("#run").addEventListener("click", async () => {
  if (!current) return;
  const box = $("#run-result");
  const body = { problem_id: current.id, language: $("#language").value, source: $("#source").value };
  if ($("#stdin").value) body.stdin = $("#stdin").value;
  box.replaceChildren(el("p", { text: "Running…" }));
  try {
    notice(null);
    const run = await api("POST", "/api/runs?wait=true", body);
    const parts = [];
    if (run.compile_output) parts.push(el("h4", { text: "Compiler output" }), el("pre", { class: "io", text: run.compile_output }));
    if (run.verdict) {
      parts.push(el("p", { "data-testid": "run-verdict" }, "Run: ",
        el("span", { class: accepted(run.verdict) ? "verdict-accepted" : "verdict-rejected", text: verdictText(run.verdict) })));
    }
    for (const c of run.cases || []) {
      const exit = c.signal ? `signal ${c.signal}` : (c.exit_code ? `exit code ${c.exit_code}` : null);
      const head = [c.name, c.verdict ? verdictText(c.verdict) : null, `${c.time_ms} ms`, `${c.memory_kb} KB`, exit].filter(Boolean).join(" · ");
      parts.push(el("h4", { text: head }));
      if (c.expected) {
        parts.push(el("div", { class: "sample" },
          el("div", {}, el("h5", { text: "Your output" }), el("pre", { class: "io", text: outputText(c.stdout) })),
          el("div", {}, el("h5", { text: "Expected" }), el("pre", { class: "io", text: outputText(c.expected) }))));
      } else {
        parts.push(el("pre", { class: "io", text: outputText(c.stdout) }));
      }
      if (c.stderr && c.stderr.text) parts.push(el("pre", { class: "io muted", text: outputText(c.stderr) }));
    }
    box.replaceChildren(...parts);
  } catch (problem) { box.replaceChildren(); notice(problem); }
});

async function loadMine() {
  const body = $("#mine tbody");
  if (!session.user || !current) { body.replaceChildren(); return; }
  const page = await api("GET", `/api/submissions?problem_id=${encodeURIComponent(current.id)}&limit=20`);
  body.replaceChildren(...page.items.map((s) => el("tr", {},
    el("td", { text: new Date(s.created_at).toLocaleString() }), el("td", { text: s.language }), el("td", { text: s.status }),
    el("td", { class: accepted(s.verdict) ? "verdict-accepted" : "verdict-rejected",
      text: verdictText(s.verdict) + (s.score !== undefined && s.score !== null ? ` (${s.score}/${s.max_score})` : "") }),
    el("td", { text: s.run_time_ms !== undefined ? `${s.run_time_ms} ms` : "" }), el("td", { text: s.memory_kb !== undefined ? `${s.memory_kb} KB` : "" }))));
}

// ---- comments ------------------------------------------------------------------------------

async function loadComments() {
  const page = await api("GET", `/api/problems/${encodeURIComponent(current.id)}/comments?limit=50`);
  $("#comments").replaceChildren(...page.items.map((c) => el("li", {},
    el("p", { text: c.body }), el("p", { class: "muted", text: new Date(c.created_at).toLocaleString() }))));
}

$("#comment-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = new FormData(event.target);
  try {
    notice(null);
    await api("POST", `/api/problems/${encodeURIComponent(current.id)}/comments`, { body: f.get("body") });
    event.target.reset();
    await loadComments();
  } catch (problem) { notice(problem); }
});

// ---- navigation ----------------------------------------------------------------------------

async function route() {
  const match = location.hash.match(/^#\/problems\/(.+)$/);
  try {
    if (match) await showProblem(decodeURIComponent(match[1]));
    else $("#problem").hidden = true;
  } catch (problem) { notice(problem); }
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", async () => {
  showAccount();
  try { await loadProblems(); } catch (problem) { notice(problem); }
  await route();
});
