// Parley's web UI: fills the server-rendered page shells from the JSON API (/api/v1) with the signed-in API key.
//
// Rules this file keeps:
// - the key lives in this tab's sessionStorage and travels only as `Authorization: Bearer`;
// - everything that came from a user or a document reaches the DOM as text (textContent, text nodes made by
//   `el`), never as HTML: there is no innerHTML, insertAdjacentHTML or document.write in this file;
// - links are built from ids with encodeURIComponent.

const KEY = "parley.apiKey";
const API = "/api/v1";
const body = document.body;
const page = body.dataset.page;
const THUMB = new URL("thumb.svg", import.meta.url).pathname;

// --- small helpers -----------------------------------------------------------------------------------------

/** An element with properties and children; strings become text nodes. */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "className") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const $ = (id) => document.getElementById(id);

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

function size(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

/** Says something to screen readers (the page's polite live region). */
function announce(text) {
  const status = $("status");
  status.textContent = "";
  window.setTimeout(() => { status.textContent = text; }, 50);
}

function notice(text, ok = false) {
  const box = $("notice");
  box.textContent = text;
  box.classList.toggle("ok", ok);
  box.setAttribute("role", ok ? "status" : "alert");
  box.hidden = !text;
}

function pagesLabel(pages) {
  const text = String(pages ?? "").replace(/[[\]\s]/g, "");
  if (!text) return "";
  return text.includes(",") || text.includes("-") ? `pages ${text.replaceAll(",", ", ")}` : `page ${text}`;
}

// --- the API -----------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function apiKey() {
  return sessionStorage.getItem(KEY);
}

function headers(extra = {}) {
  return { Authorization: `Bearer ${apiKey()}`, Accept: "application/json", ...extra };
}

function apiUrl(path, query) {
  const url = new URL(API + path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  return url;
}

async function failure(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const error = await response.json();
    if (error && error.message) message = error.message;
  } catch {
    // not JSON: keep the status line
  }
  if (response.status === 401) signedOut(`The API key was refused: ${message}`);
  return new ApiError(response.status, message);
}

/** A JSON call to /api/v1; resolves to the decoded body (null for 204), rejects with an ApiError. */
async function api(method, path, { query, json, accept } = {}) {
  const init = { method, headers: headers(accept ? { Accept: accept } : {}) };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  const response = await fetch(apiUrl(path, query), init);
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return null;
  return response.json();
}

/** Every page of a history stream (`next` continues it). */
async function allEvents(path) {
  const events = [];
  let offset = 0;
  for (;;) {
    const pageOfEvents = await api("GET", path, { query: { offset, limit: 100 } });
    events.push(...pageOfEvents.events);
    if (pageOfEvents.next === null || pageOfEvents.next === undefined) return events;
    offset = pageOfEvents.next;
  }
}

function showError(error) {
  if (error instanceof ApiError && error.status === 401) return; // the sign-in form says it
  notice(error instanceof Error ? error.message : String(error));
}

// --- signing in and out ------------------------------------------------------------------------------------

let started = false;

function signedOut(message) {
  sessionStorage.removeItem(KEY);
  $("app").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  notice(message || "");
  $("api-key").focus();
}

async function signIn(event) {
  event.preventDefault();
  const field = $("api-key");
  const key = field.value.trim();
  if (!key) return;
  const response = await fetch(apiUrl("/collections/count"), {
    headers: { Authorization: `Bearer ${key}`, Accept: "application/json" },
  });
  if (!response.ok) {
    let message = `${response.status}`;
    try { message = (await response.json()).message || message; } catch { /* keep the status */ }
    notice(`Sign-in failed: ${message}`);
    field.select();
    return;
  }
  sessionStorage.setItem(KEY, key);
  field.value = "";
  notice("");
  if (started) window.location.reload();
  else showApp();
}

function signOut() {
  sessionStorage.removeItem(KEY);
  window.location.assign("/");
}

async function showApp() {
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  started = true;
  const init = PAGES[page];
  try {
    if (init) await init();
  } catch (error) {
    showError(error);
    if (error instanceof ApiError && (error.status === 403 || error.status === 404)) {
      // nothing of this page can be shown: say so, and offer the way back
      $("app").replaceChildren(el("h1", { text: error.status === 404 ? "Not found" : "Not allowed" }),
        el("p", {}, el("a", { href: "/", text: "Back to the collections" })));
    }
  }
}

// --- collections -------------------------------------------------------------------------------------------

async function initCollections() {
  const list = $("collections");
  $("create-collection").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const name = form.elements.name.value.trim();
    if (!name) return;
    try {
      const created = await api("POST", "/collections", {
        json: { name, description: form.elements.description.value },
      });
      window.location.assign(`/ui/collections/${encodeURIComponent(created.id)}`);
    } catch (error) {
      showError(error);
    }
  });
  const collections = await api("GET", "/collections", { query: { limit: 100, sort_column: "updated_at" } });
  list.replaceChildren(...collections.map((c) => el("li", {},
    el("h3", {}, el("a", { href: `/ui/collections/${encodeURIComponent(c.id)}`, text: c.name })),
    c.description ? el("p", { text: c.description }) : null,
    el("p", { className: "meta",
      text: `${plural(c.document_count, "document")} · ${plural(c.sessions_count, "chat")} · updated ${when(c.updated_at)}` }),
  )));
  $("collections-empty").hidden = collections.length > 0;
  list.setAttribute("aria-busy", "false");
}

// --- one collection: documents, uploads, chats ---------------------------------------------------------------

async function initCollection() {
  const collectionId = body.dataset.collectionId;
  const base = `/collections/${encodeURIComponent(collectionId)}`;

  async function loadCollection() {
    const c = await api("GET", base);
    document.title = `${c.name} · Parley`;
    $("collection-name").textContent = c.name;
    $("collection-description").textContent = c.description || "";
    $("collection-counts").textContent =
      `${plural(c.document_count, "document")} · ${size(c.document_size)} · owner ${c.username}`;
  }

  async function loadDocuments() {
    const documents = await api("GET", `${base}/documents`, { query: { with_summaries: true, limit: 100 } });
    const list = $("documents");
    list.replaceChildren(...documents.map((d) => el("li", { dataset: { documentId: d.id } },
      el("h3", { className: "document-name", text: d.name }),
      el("p", { className: "meta" },
        el("span", { className: `badge ${d.status}`, text: d.status }), " ",
        `${plural(d.page_count, "page")} · ${size(d.size)} · ${d.type} · ${when(d.updated_at)}`),
      d.error ? el("p", { className: "error", text: d.error }) : null,
      d.summary
        ? el("details", { className: "summary" }, el("summary", { text: "Summary" }), el("p", { className: "summary-text", text: d.summary }))
        : el("p", { className: "hint", text: "No summary." }),
    )));
    $("documents-empty").hidden = documents.length > 0;
    list.setAttribute("aria-busy", "false");
  }

  async function loadChats() {
    const chats = await api("GET", `${base}/chats`, { query: { limit: 100 } });
    $("chats").replaceChildren(...chats.map((s) => el("li", {},
      el("a", { href: `/ui/chats/${encodeURIComponent(s.id)}`, text: s.name || `Chat of ${when(s.updated_at)}` }),
      s.latest_message_content ? el("span", { className: "meta", text: ` · ${s.latest_message_content.slice(0, 80)}` }) : null,
    )));
  }

  $("new-chat").addEventListener("click", async () => {
    try {
      const session = await api("POST", "/chats", { query: { collection_id: collectionId } });
      window.location.assign(`/ui/chats/${encodeURIComponent(session.id)}`);
    } catch (error) {
      showError(error);
    }
  });

  const input = $("file-input");
  const zone = $("dropzone");
  $("upload-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!input.files.length) {
      notice("Choose one or more files first.");
      input.focus();
      return;
    }
    ingest([...input.files]);
  });
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, () => zone.classList.remove("over"));
  }
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    const files = [...(event.dataTransfer?.files || [])];
    if (files.length) ingest(files);
  });

  /** Upload each file, start one ingestion job over them, and follow it to the end. */
  async function ingest(files) {
    notice("");
    const panel = $("ingestion");
    panel.hidden = false;
    const rows = files.map((file) => {
      const bar = el("progress", { max: 100, value: 0, "aria-label": `Upload of ${file.name}` });
      const state = el("span", { className: "state", text: "Uploading…" });
      const li = el("li", { className: "file" }, el("span", { className: "name", text: file.name }), bar, state);
      return { file, li, bar, state, uploadId: null };
    });
    $("upload-files").replaceChildren(...rows.map((row) => row.li));
    setJob(0, "Uploading files…");
    const results = await Promise.allSettled(rows.map((row) => uploadFile(row)));
    const uploaded = rows.filter((row, i) => results[i].status === "fulfilled");
    if (!uploaded.length) {
      setJob(0, "Nothing was uploaded.");
      return;
    }
    let job;
    try {
      const ids = uploaded.map((row) => row.uploadId).join(",");
      job = await api("POST", `/uploads/${ids}/ingest/job`, {
        query: { collection_id: collectionId, gen_doc_summaries: $("gen-summaries").checked ? "true" : "false" },
      });
    } catch (error) {
      setJob(0, `The ingestion job could not start: ${error.message}`);
      for (const row of uploaded) setRow(row, "failed", error.message);
      return;
    }
    for (const row of uploaded) {
      row.bar.removeAttribute("value"); // indeterminate until the job reports the file
      row.bar.setAttribute("aria-label", `Ingestion of ${row.file.name}`);
      row.state.textContent = "Ingesting…";
    }
    for (;;) {
      showJob(job, uploaded);
      if (job.overall_status !== "in progress") break;
      await new Promise((resolve) => window.setTimeout(resolve, 400));
      try {
        job = await api("GET", `/jobs/${encodeURIComponent(job.id)}`);
      } catch (error) {
        setJob(Math.round(job.progress * 100), `Lost track of the job: ${error.message}`);
        return;
      }
    }
    announce(`Ingestion ${job.overall_status}: ${plural(uploaded.length, "file")}`);
    input.value = "";
    await Promise.all([loadDocuments(), loadCollection()]);
  }

  function setJob(percent, text) {
    $("job-progress").value = percent;
    $("job-percent").textContent = `${percent}%`;
    $("job-state").textContent = text;
  }

  function setRow(row, status, detail) {
    row.li.dataset.status = status;
    row.state.classList.toggle("failed", status === "failed");
    if (status === "completed") {
      row.bar.value = 100;
      row.state.textContent = "Done: searchable now";
    } else if (status === "failed") {
      row.bar.value = 0;
      row.state.textContent = `Failed${detail ? `: ${detail}` : ""}`;
    } else {
      row.state.textContent = detail || status;
    }
  }

  function showJob(job, rows) {
    const percent = Math.round(job.progress * 100);
    const finished = job.overall_status !== "in progress";
    setJob(percent, `${job.overall_status} · ${job.duration}${job.errors.length ? ` · ${plural(job.errors.length, "error")}` : ""}`);
    const statuses = new Map(job.statuses.map((s) => [s.id, s.status]));
    for (const row of rows) {
      const status = statuses.get(row.uploadId);
      const error = job.errors.find((e) => e.startsWith(`${row.file.name}: `));
      if (status) setRow(row, status, error ? error.slice(row.file.name.length + 2) : "");
      else if (finished) setRow(row, job.overall_status, error || "");
    }
  }

  /** PUT one file to /uploads (XMLHttpRequest, for its upload progress). */
  function uploadFile(row) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", `${API}/uploads`);
      xhr.setRequestHeader("Authorization", `Bearer ${apiKey()}`);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.responseType = "json";
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) row.bar.value = Math.round((event.loaded / event.total) * 100);
      });
      xhr.addEventListener("load", () => {
        if (xhr.status === 200 && xhr.response && xhr.response.id) {
          row.uploadId = xhr.response.id;
          row.bar.value = 100;
          row.state.textContent = "Uploaded";
          resolve(row);
        } else {
          const message = (xhr.response && xhr.response.message) || `upload failed (${xhr.status})`;
          if (xhr.status === 401) signedOut(`The API key was refused: ${message}`);
          setRow(row, "failed", message);
          reject(new ApiError(xhr.status, message));
        }
      });
      xhr.addEventListener("error", () => {
        setRow(row, "failed", "the connection failed");
        reject(new Error("the connection failed"));
      });
      const form = new FormData();
      form.append("file", row.file, row.file.name);
      xhr.send(form);
    });
  }

  await Promise.all([loadCollection(), loadDocuments(), loadChats()]);
}

// --- a chat session ----------------------------------------------------------------------------------------

/** The answer's text with each [n] marker as a link to its citation. */
function citedText(node, text, messageId, count) {
  node.replaceChildren();
  let last = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    const n = Number(match[1]);
    if (n < 1 || n > count) continue;
    node.append(text.slice(last, match.index));
    const target = `cite-${messageId}-${n}`;
    node.append(el("a", {
      href: `#${target}`, className: "marker", text: match[0], "aria-label": `citation ${n}`,
      onclick: () => { const details = $(target); if (details) details.open = true; },
    }));
    last = match.index + match[0].length;
  }
  node.append(text.slice(last));
}

function citationList(messageId, references) {
  if (!references.length) return null;
  return el("div", { className: "citations" },
    el("h3", { text: `Sources (${references.length})` }),
    el("ol", { className: "citations" }, references.map((r, i) => el("li", {},
      el("details", { id: `cite-${messageId}-${i + 1}`, className: "citation" },
        el("summary", {},
          `[${i + 1}] `, el("span", { className: "document-name", text: r.document_name }),
          `, ${pagesLabel(r.pages)} · score ${Number(r.score).toFixed(2)}`,
          r.were_references_deleted ? " · document deleted since" : ""),
        el("blockquote", { className: "chunk", text: r.content ?? "(the chunk's text is not available)" }),
      ),
    ))),
  );
}

function voteButtons(messageId, votes) {
  let current = votes || 0;
  const thumb = () => el("img", { src: THUMB, alt: "", width: 18, height: 18, className: "thumb" });
  const up = el("button", { type: "button", className: "vote-up", "aria-pressed": String(current === 1) },
    thumb(), "Helpful");
  const down = el("button", { type: "button", className: "vote-down", "aria-pressed": String(current === -1) },
    thumb(), "Not helpful");
  async function vote(value) {
    const next = current === value ? 0 : value;
    try {
      await api("PUT", `/messages/${encodeURIComponent(messageId)}/votes`, { json: { votes: next } });
      current = next;
      up.setAttribute("aria-pressed", String(current === 1));
      down.setAttribute("aria-pressed", String(current === -1));
      announce(current === 0 ? "Vote taken back" : "Vote recorded");
    } catch (error) {
      showError(error);
    }
  }
  up.addEventListener("click", () => vote(1));
  down.addEventListener("click", () => vote(-1));
  return el("div", { className: "votes", role: "group", "aria-label": "Was this answer helpful?" }, up, down);
}

function messageItem(kind, text) {
  const li = el("li", { className: `message ${kind}` },
    el("p", { className: "who", text: kind === "question" ? "You asked" : "Answer" }),
    el("p", { className: "text", text }));
  return li;
}

async function finishAnswer(li, message) {
  li.dataset.messageId = message.id;
  li.setAttribute("aria-busy", "false");
  const references = message.error ? [] : await api("GET", `/messages/${encodeURIComponent(message.id)}/references`);
  const text = li.querySelector(".text");
  if (message.error) {
    text.classList.add("error");
    text.textContent = `No answer: ${message.error}`;
  } else {
    citedText(text, message.content, message.id, references.length);
  }
  li.append(...[citationList(message.id, references), message.error ? null : voteButtons(message.id, message.votes)]
    .filter(Boolean));
}

async function initChat() {
  const sessionId = body.dataset.sessionId;
  const session = await api("GET", `/chats/${encodeURIComponent(sessionId)}`);
  const title = session.name || (session.collection_name ? `Chat on ${session.collection_name}` : "Chat");
  $("chat-title").textContent = title;
  document.title = `${title} · Parley`;
  const link = $("collection-link");
  if (session.collection_id) {
    link.href = `/ui/collections/${encodeURIComponent(session.collection_id)}`;
    link.textContent = session.collection_name || "collection";
  } else {
    link.replaceWith(el("span", { text: "no collection" }));
  }
  await templatePicker(sessionId, session.prompt_template_id);
  const list = $("messages");
  const messages = await api("GET", `/chats/${encodeURIComponent(sessionId)}/messages`, { query: { limit: 100 } });
  for (const message of messages) {
    if (message.reply_to) {
      const li = messageItem("answer", message.content);
      list.append(li);
      await finishAnswer(li, message);
    } else {
      list.append(messageItem("question", message.content));
    }
  }
  list.setAttribute("aria-busy", "false");

  const form = $("ask-form");
  const question = $("question");
  question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = question.value.trim();
    if (!text) return;
    notice("");
    const button = $("ask");
    button.disabled = true;
    list.append(messageItem("question", text));
    const answer = messageItem("answer", "");
    answer.setAttribute("aria-busy", "true");
    list.append(answer);
    answer.scrollIntoView({ block: "nearest" });
    try {
      const done = await streamAnswer(sessionId, text, answer);
      question.value = "";
      await finishAnswer(answer, done);
      announce("The answer is complete");
    } catch (error) {
      answer.setAttribute("aria-busy", "false");
      answer.querySelector(".text").textContent = `No answer: ${error.message}`;
      answer.querySelector(".text").classList.add("error");
      showError(error);
    } finally {
      button.disabled = false;
      question.focus();
    }
  });
}

/** The session's prompt template: pick one to attach, or none (the collection's, else the default). */
async function templatePicker(sessionId, attached) {
  const picker = $("session-template");
  const templates = await api("GET", "/prompt_templates", { query: { limit: 100 } });
  picker.replaceChildren(
    el("option", { value: "", text: "None: the collection's, else the built-in default" }),
    ...templates.map((t) => el("option", { value: t.id, text: `${t.name} (version ${t.version ?? 1})` })),
  );
  if (attached && !templates.some((t) => t.id === attached)) picker.append(el("option", { value: attached, text: attached }));
  picker.value = attached || "";
  $("session-template-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const path = `/chats/${encodeURIComponent(sessionId)}/prompt_template`;
    try {
      if (picker.value) await api("PUT", path, { json: { prompt_template_id: picker.value } });
      else await api("DELETE", path);
      const chosen = picker.selectedOptions[0];
      notice(picker.value ? `This chat now answers with ${chosen.textContent}.` : "This chat uses no template of its own now.", true);
    } catch (error) {
      showError(error);
    }
  });
}

/** Asks with `stream: true` and shows each JSON Lines piece as it comes; resolves to the recorded answer. */
async function streamAnswer(sessionId, text, li) {
  const response = await fetch(apiUrl(`/chats/${encodeURIComponent(sessionId)}/completions`), {
    method: "POST",
    headers: headers({ Accept: "application/jsonl", "Content-Type": "application/json" }),
    body: JSON.stringify({ message: text, stream: true }),
  });
  if (!response.ok) throw await failure(response);
  const node = li.querySelector(".text");
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let shown = "";
  let pieces = 0;
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end).trim();
      buffer = buffer.slice(end + 1);
      if (!line) continue;
      const piece = JSON.parse(line);
      if (piece.error) throw new Error(piece.error);
      if (!piece.finished) {
        shown += piece.body;
        pieces += 1;
        li.dataset.pieces = String(pieces);
        node.textContent = shown;
      } else {
        return { id: piece.message_id, content: piece.body, votes: 0 };
      }
    }
    if (done) throw new Error("the answer's stream ended early");
  }
}

// --- a session's history timeline ----------------------------------------------------------------------------

const EVENT_LABELS = {
  ChatSessionCreated: "Session created",
  ChatSessionRenamed: "Session renamed",
  ChatSessionDeleted: "Session deleted",
  ChatSessionErased: "Session erased",
  ChatSessionTemplateAttached: "Template attached",
  ChatSessionTemplateDetached: "Template detached",
  QuestionAsked: "Question asked",
  AnswerGenerated: "Answer generated",
  AnswerFailed: "Answer failed",
  AnswerReplayed: "Answer replayed",
  AnswerVoted: "Vote",
  AnswerFeedbackGiven: "Feedback",
};

function chunkDetails(references) {
  return el("div", { className: "chunks" },
    el("p", { text: `Made from ${plural(references.length, "chunk")}:` }),
    references.map((r, i) => el("details", { className: "chunk" },
      el("summary", {}, `[${i + 1}] `, el("span", { className: "document-name", text: r.document_name }),
        `, ${pagesLabel((r.pages || []).join(","))} · score ${Number(r.score).toFixed(2)}`),
      el("blockquote", { text: r.content }),
    )));
}

function eventBody(event) {
  const p = event.payload || {};
  switch (event.type) {
    case "ChatSessionCreated":
      return [el("p", { text: p.collection_id ? `On collection ${p.collection_id}` : "Without a collection" })];
    case "ChatSessionRenamed":
      return [el("p", { text: `Named “${p.name}”` })];
    case "ChatSessionTemplateAttached":
      return [el("p", { text: `Template ${p.template_id}` })];
    case "QuestionAsked":
      return [el("p", { className: "question-text", text: p.text })];
    case "AnswerGenerated":
      return [
        el("p", { className: "answer-text", text: p.text }),
        el("p", { className: "template-version",
          text: `Template ${p.template_id ?? "none"}${p.template_version == null ? " (built in)" : `, version ${p.template_version}`}` +
            ` · ${p.rag_type} · model ${p.llm}` }),
        chunkDetails(p.references || []),
        el("details", {}, el("summary", { text: "The prompt the model received" }), el("pre", { text: p.prompt_raw })),
      ];
    case "AnswerFailed":
      return [el("p", { className: "error", text: `${p.error_type}: ${p.reason}` })];
    case "AnswerReplayed":
      return [el("p", { text: `${p.identical ? "Identical" : "Different"} replay with ${p.llm}` }), el("pre", { text: p.text })];
    case "AnswerVoted":
      return [el("p", { text: `${p.votes > 0 ? "Thumbs up" : p.votes < 0 ? "Thumbs down" : "Vote taken back"} on answer ${p.message_id}` })];
    case "AnswerFeedbackGiven":
      return [el("p", { text: [p.user_comment, p.expected_answer && `expected: ${p.expected_answer}`].filter(Boolean).join(" · ") })];
    default:
      return [];
  }
}

async function initTimeline() {
  const sessionId = body.dataset.sessionId;
  try {
    const session = await api("GET", `/chats/${encodeURIComponent(sessionId)}`);
    if (session.name) $("timeline-title").textContent = `History of “${session.name}”`;
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error; // a deleted session has history too
  }
  const events = await allEvents(`/chats/${encodeURIComponent(sessionId)}/events`);
  const list = $("timeline");
  list.replaceChildren(...events.map((event) => el("li", { dataset: { type: event.type } },
    el("h2", { className: "event-type", text: EVENT_LABELS[event.type] || event.type }),
    el("p", { className: "meta" },
      el("time", { datetime: event.recorded_at, text: when(event.recorded_at) }),
      ` · ${event.actor || "unknown"} · event ${event.version} of the session · log position ${event.position}`),
    ...eventBody(event),
    el("details", {}, el("summary", { text: `${event.type}: the whole event` }),
      el("pre", { text: JSON.stringify(event, null, 2) })),
  )));
  if (!events.length) list.replaceChildren(el("li", { text: "No events." }));
  list.setAttribute("aria-busy", "false");
}

// --- prompt templates ----------------------------------------------------------------------------------------

async function initTemplates() {
  $("create-template").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const json = { name: form.elements.name.value.trim() };
    if (form.elements.system_prompt.value) json.system_prompt = form.elements.system_prompt.value;
    try {
      const created = await api("POST", "/prompt_templates", { json });
      window.location.assign(`/ui/templates/${encodeURIComponent(created.id)}`);
    } catch (error) {
      showError(error);
    }
  });
  const templates = await api("GET", "/prompt_templates/all", { query: { limit: 100 } });
  const list = $("templates");
  list.replaceChildren(...templates.map((t) => el("li", {},
    el("h3", {}, el("a", { href: `/ui/templates/${encodeURIComponent(t.id)}`, text: t.name || t.id })),
    t.description ? el("p", { text: t.description }) : null,
    el("p", { className: "meta" },
      t.is_default ? el("span", { className: "badge", text: "built in" }) : null, t.is_default ? " " : null,
      `version ${t.version ?? 1}${t.username ? ` · ${t.username}` : ""}${t.updated_at ? ` · ${when(t.updated_at)}` : ""}`),
  )));
  list.setAttribute("aria-busy", "false");
}

const TEMPLATE_FIELDS = ["name", "description", "lang", "system_prompt", "pre_prompt_query", "prompt_query", "chat_template"];

async function initTemplate() {
  const templateId = body.dataset.templateId;
  const base = `/prompt_templates/${encodeURIComponent(templateId)}`;
  const form = $("template-form");
  let template = await api("GET", base);

  function fill(t) {
    template = t;
    $("template-title").textContent = t.name || t.id;
    document.title = `${t.name || t.id} · Parley`;
    $("template-meta").textContent = `version ${t.version ?? 1}${t.username ? ` · ${t.username}` : ""}` +
      `${t.updated_at ? ` · updated ${when(t.updated_at)}` : ""}`;
    for (const name of TEMPLATE_FIELDS) form.elements[name].value = t[name] ?? "";
    const readOnly = Boolean(t.is_default);
    $("read-only").hidden = !readOnly;
    for (const control of form.elements) control.disabled = readOnly;
  }
  fill(template);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const changes = {};
    for (const name of TEMPLATE_FIELDS) {
      const value = form.elements[name].value;
      if (value === (template[name] ?? "")) continue;
      changes[name] = value === "" && name !== "name" ? null : value; // an emptied field is unset
    }
    if (!Object.keys(changes).length) {
      notice("Nothing changed: no new version.", true);
      return;
    }
    try {
      fill(await api("PATCH", base, { json: changes }));
      notice(`Saved: version ${template.version}.`, true);
      await Promise.all([loadVersions(), preview()]);
    } catch (error) {
      showError(error);
    }
  });

  // the preview: live as the question changes, and after each save
  const question = $("preview-question");
  const collection = $("preview-collection");
  let asked = 0;
  let timer;
  async function preview() {
    const mine = ++asked;
    const out = $("preview");
    out.setAttribute("aria-busy", "true");
    try {
      const result = await api("POST", `${base}/preview`, {
        json: { question: question.value || " ", collection_id: collection.value || null },
      });
      if (mine !== asked) return; // a newer preview is on its way
      $("preview-meta").textContent = `version ${result.version ?? "–"} · ${result.rag_type} · model ${result.llm} · ` +
        `${plural(result.references.length, "chunk")} retrieved`;
      $("preview-messages").replaceChildren(...result.messages.map((m) => el("section", { className: "prompt-message" },
        el("h3", { text: m.role }), el("pre", { className: "prompt-content", text: m.content }))));
    } catch (error) {
      if (mine !== asked) return;
      $("preview-meta").textContent = "";
      $("preview-messages").replaceChildren(el("p", { className: "error", text: `No preview: ${error.message}` }));
    } finally {
      if (mine === asked) out.setAttribute("aria-busy", "false");
    }
  }
  $("preview-form").addEventListener("submit", (event) => {
    event.preventDefault();
    preview();
  });
  question.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(preview, 400);
  });
  collection.addEventListener("change", preview);

  // versions and their diff
  async function loadVersions() {
    const versions = await api("GET", `${base}/versions`);
    $("versions").replaceChildren(...versions.map((v) => el("li", {},
      el("strong", { text: `Version ${v.version}` }),
      ` · ${when(v.created_at)}${v.username ? ` · ${v.username}` : ""} · changed: ${v.changed.join(", ") || "nothing"}`)));
    for (const [id, pick] of [["diff-from", versions.length - 2], ["diff-to", versions.length - 1]]) {
      const select = $(id);
      select.replaceChildren(...versions.map((v) => el("option", { value: v.version, text: `version ${v.version}` })));
      if (versions[Math.max(pick, 0)]) select.value = String(versions[Math.max(pick, 0)].version);
    }
    $("diff-form").hidden = versions.length < 2;
  }
  $("diff-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = $("diff");
    try {
      const diff = await api("GET", `${base}/diff`, { query: { from: $("diff-from").value, to: $("diff-to").value } });
      const fields = Object.entries(diff.fields);
      out.replaceChildren(
        el("h3", { text: `Version ${diff.from_version} → version ${diff.to_version}` }),
        ...(fields.length ? [] : [el("p", { text: "No differences." })]),
        ...fields.map(([field, text]) => el("section", { className: "field-diff" },
          el("h4", { text: field }),
          el("pre", { className: "diff" }, text.split("\n").map((line) => el("span", {
            className: line.startsWith("@@") ? "hunk" : line.startsWith("+") && !line.startsWith("+++") ? "add"
              : line.startsWith("-") && !line.startsWith("---") ? "del" : "",
            text: line,
          }))))),
      );
    } catch (error) {
      out.replaceChildren(el("p", { className: "error", text: error.message }));
    }
  });

  const [collections] = await Promise.all([api("GET", "/collections", { query: { limit: 100 } }), loadVersions()]);
  collection.append(...collections.map((c) => el("option", { value: c.id, text: c.name })));
  await preview();
}

// --- start ---------------------------------------------------------------------------------------------------

const PAGES = {
  collections: initCollections,
  collection: initCollection,
  chat: initChat,
  timeline: initTimeline,
  templates: initTemplates,
  template: initTemplate,
};

$("sign-in-form").addEventListener("submit", (event) => {
  signIn(event).catch(showError);
});
$("sign-out").addEventListener("click", signOut);
if (apiKey()) showApp();
else signedOut();
