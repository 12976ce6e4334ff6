// The job monitor: the REST list is the truth; the /api/jobs/ws socket moves it live, and
// while the socket is down the page polls GET /api/jobs/{id} for the active jobs.
"use strict";
(() => {
  const ACTIVE = new Set(["pending", "running", "cancelling"]);
  const POLL_MS = 2000;
  const LIST_EVERY_POLLS = 5;
  const tbody = document.querySelector("#jobs tbody");
  const connection = document.getElementById("connection");
  const empty = document.getElementById("empty");
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const rows = new Map();
  let pollTimer = null;
  let polls = 0;
  let retryDelay = 1000;

  async function api(path, method = "GET") {
    const response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: {Accept: "application/json", "X-CSRFToken": csrfToken},
    });
    if (response.status === 401 || response.status === 403) {
      location.assign(`/admin/login/?next=${encodeURIComponent(location.pathname)}`);
    }
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    return body;
  }

  function cell(row, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function createRow(job) {
    const row = document.createElement("tr");
    row.dataset.jobId = job.id;
    cell(row, "type");
    const status = document.createElement("span");
    status.className = "status";
    cell(row).appendChild(status);
    const progress = cell(row);
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    bar.appendChild(document.createElement("div"));
    const count = document.createElement("span");
    count.className = "count";
    progress.append(bar, count);
    cell(row, "message");
    cell(row, "created");
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    cancel.className = "cancel";
    cancel.addEventListener("click", () => cancelJob(job.id, cancel));
    cell(row).appendChild(cancel);
    return row;
  }

  function render(job) {
    let row = rows.get(job.id);
    if (!row) {
      row = createRow(job);
      rows.set(job.id, row);
      tbody.prepend(row);
    }
    row.dataset.status = job.status;
    row.querySelector(".type").textContent = job.type;
    const status = row.querySelector(".status");
    status.textContent = job.status;
    status.dataset.status = job.status;
    const bar = row.querySelector(".bar");
    bar.setAttribute("aria-valuenow", String(job.progress));
    bar.firstChild.style.width = `${job.progress}%`;
    row.querySelector(".count").textContent = job.total_items
      ? `${job.processed_items} / ${job.total_items}` : `${job.processed_items}`;
    row.querySelector(".message").textContent = job.error
      ? job.error.split("\n")[0] : job.message;
    row.querySelector(".created").textContent = new Date(job.created_at).toLocaleString();
    row.querySelector(".cancel").hidden = !(job.status === "pending"
      || job.status === "running");
    empty.hidden = rows.size > 0;
  }

  async function cancelJob(jobId, button) {
    button.disabled = true;
    try {
      render(await api(`/api/jobs/${jobId}`, "DELETE"));
    } catch (error) {
      console.warn("cancel failed:", error.message);
    } finally {
      button.disabled = false;
    }
  }

  async function refreshList() {
    const jobs = await api("/api/jobs?limit=50");
    jobs.reverse().forEach(render);
    empty.hidden = rows.size > 0;
  }

  async function pollActiveJobs() {
    polls += 1;
    if (polls % LIST_EVERY_POLLS === 0) await refreshList();
    const active = [...rows.values()].filter((row) => ACTIVE.has(row.dataset.status));
    await Promise.all(active.map(async (row) => render(await api(`/api/jobs/${row.dataset.jobId}`))));
  }

  function setConnection(state, label) {
    connection.dataset.state = state;
    connection.textContent = label;
  }

  function startPolling() {
    if (pollTimer === null) {
      pollTimer = setInterval(() => pollActiveJobs().catch(console.warn), POLL_MS);
    }
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/jobs/ws`);
    socket.addEventListener("open", () => {
      retryDelay = 1000;
      stopPolling();
      setConnection("live", "live");
      refreshList().catch(console.warn);  // catch up on what happened while away
    });
    socket.addEventListener("message", (event) => render(JSON.parse(event.data).job));
    socket.addEventListener("close", () => {
      setConnection("polling", "reconnecting… (polling)");
      startPolling();
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    });
  }

  refreshList().catch(console.warn);
  connect();
})();
