// The report's only script (inline; the page loads nothing). It decodes the packed patient data
// (JSON, gzip, base64: report/packing.py), draws the patient table a page at a time with search,
// filters and sorting, and fills the drill-down of a patient on demand. Every value from the data
// is put in the page as text (textContent), never as markup.
"use strict";
(function () {
  const PAGE = 50;
  const VERDICT = { e: "eligible", i: "ineligible", u: "undetermined", x: "error" };
  const VERDICT_ORDER = { e: 0, u: 1, i: 2, x: 3 };
  const RESULT = { m: "met", n: "not met", u: "unknown", r: "needs review", j: "not judged" };
  const blobs = new Map();

  function unpack(id) {
    if (!blobs.has(id)) {
      const node = document.getElementById(id);
      if (!node) return Promise.reject(new Error("no data block " + id));
      const text = atob(node.textContent.trim());
      const bytes = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
      blobs.set(id, new Response(stream).json());
    }
    return blobs.get(id);
  }

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function badge(code, words) {
    return el("span", { class: "badge r-" + code, text: words || RESULT[code] || code });
  }

  // A screen's criterion: coloured by what its result does (passes / excludes), as the terminal
  // table words it ("not met (excludes)").
  function criterionBadge(section, code) {
    const pass = section === "inclusion" ? "m" : "n", fail = section === "inclusion" ? "n" : "m";
    if (code === pass) return el("span", { class: "badge e-pass", text: RESULT[code] });
    if (code === fail) return el("span", { class: "badge e-fail", text: RESULT[code] + " (excludes)" });
    return badge(code);
  }

  function list(items, cls) {
    if (!items || !items.length) return null;
    return el("ul", { class: cls || "" }, ...items.map((item) => el("li", { text: item })));
  }

  function evidenceList(evidence, more) {
    if (!evidence.length && !more) return null;
    const items = evidence.map(([what, detail, date]) =>
      el("li", {}, el("b", { text: what }), ": ", detail,
        date ? el("span", { class: "ev-date", text: " · " + date }) : null));
    if (more) items.push(el("li", { class: "muted", text: "+" + more + " more in the JSON Lines output" }));
    return el("ul", {}, ...items);
  }

  // ------------------------------------------------------------------ one section (a trial)
  class Section {
    constructor(root, data) {
      this.root = root;
      this.data = data;
      this.kind = data.kind;
      this.n = data.id.length;
      this.lower = null;
      this.state = { query: "", verdict: "", blocker: -1, sort: "", dir: 1, page: 0 };
      this.tbody = root.querySelector("tbody.patients");
      this.pager = root.querySelector(".pager-text");
      this.drill = root.querySelector(".drill");
      this.chip = root.querySelector(".filter-chip");
      this.bind();
      this.refresh();
    }

    bind() {
      const root = this.root;
      let timer = 0;
      root.querySelector("input.search").addEventListener("input", (event) => {
        clearTimeout(timer);
        timer = setTimeout(() => { this.state.query = event.target.value.trim().toLowerCase(); this.refresh(); }, 120);
      });
      const verdict = root.querySelector("select.verdict");
      if (verdict) verdict.addEventListener("change", (event) => { this.state.verdict = event.target.value; this.refresh(); });
      root.querySelectorAll("th button.sort").forEach((button) => button.addEventListener("click", () => {
        const key = button.dataset.key;
        this.state.dir = this.state.sort === key ? -this.state.dir : 1;
        this.state.sort = key;
        root.querySelectorAll("th button.sort").forEach((b) => b.removeAttribute("data-dir"));
        button.dataset.dir = this.state.dir > 0 ? "asc" : "desc";
        this.refresh();
      }));
      root.querySelector("button.prev").addEventListener("click", () => this.turn(-1));
      root.querySelector("button.next").addEventListener("click", () => this.turn(1));
      root.querySelectorAll("button.show-blocked").forEach((button) => button.addEventListener("click", () => {
        this.state.blocker = Number(button.dataset.blocker);
        this.state.verdict = "";
        if (verdict) verdict.value = "";
        this.refresh();
        root.querySelector(".patients-heading").scrollIntoView();
      }));
      if (this.chip) this.chip.querySelector("button").addEventListener("click", () => { this.state.blocker = -1; this.refresh(); });
    }

    turn(step) {
      const pages = Math.max(1, Math.ceil(this.rows.length / PAGE));
      this.state.page = Math.min(pages - 1, Math.max(0, this.state.page + step));
      this.render();
    }

    matches(i) {
      const s = this.state, d = this.data;
      if (s.verdict && d.verdict && d.verdict[i] !== s.verdict) return false;
      if (s.blocker >= 0 && !d.blocks[i].includes(s.blocker)) return false;
      if (s.query) {
        if (!this.lower) this.lower = d.id.map((x) => x.toLowerCase());
        return this.lower[i].includes(s.query);
      }
      return true;
    }

    sortKey(key) {
      const d = this.data;
      if (key === "verdict") return (i) => VERDICT_ORDER[d.verdict[i]];
      if (key === "deciding") return (i) => (d.deciding[i].length ? d.deciding[i][0] : -1);
      if (key === "met") return (i) => d.met[i];
      return (i) => d[key][i];
    }

    refresh() {
      const rows = [];
      for (let i = 0; i < this.n; i++) if (this.matches(i)) rows.push(i);
      if (this.state.sort) {
        const key = this.sortKey(this.state.sort), dir = this.state.dir;
        rows.sort((a, b) => { const x = key(a), y = key(b); return x < y ? -dir : x > y ? dir : a - b; });
      }
      this.rows = rows;
      this.state.page = 0;
      if (this.chip) {
        const b = this.state.blocker;
        this.chip.hidden = b < 0;
        if (b >= 0) this.chip.querySelector("span").textContent = "blocked by: " + this.data.blockers[b][1];
      }
      this.render();
    }

    render() {
      const start = this.state.page * PAGE, end = Math.min(this.rows.length, start + PAGE);
      const body = [];
      for (let k = start; k < end; k++) body.push(this.row(this.rows[k]));
      this.tbody.replaceChildren(...body);
      this.pager.textContent = this.rows.length
        ? `patients ${start + 1}–${end} of ${this.rows.length}` + (this.rows.length < this.n ? ` (filtered from ${this.n})` : "")
        : `no patient matches (of ${this.n})`;
    }

    openButton(i) {
      return el("button", { class: "link open", "data-row": String(i), text: this.data.id[i], on: { click: () => this.open(i) } });
    }

    row(i) {
      const d = this.data;
      if (this.kind === "outcomes") {
        const error = d.met[i] < 0;  // an unreadable record
        return el("tr", {}, el("td", {}, this.openButton(i)),
          el("td", { class: "num", text: error ? "" : String(d.met[i]) }),
          el("td", { class: error ? "error" : "", text: d.summary[i] }));
      }
      const v = d.verdict[i];
      return el("tr", {}, el("td", {}, this.openButton(i)),
        el("td", {}, el("span", { class: "badge v-" + v, text: VERDICT[v] })),
        el("td", { text: d.deciding[i].map((c) => d.criteria[c].id).join(" ") }),
        el("td", { text: d.why[i] }));
    }

    async open(i) {
      const chunk = await unpack(this.root.dataset.blob + "-" + Math.floor(i / this.data.chunk));
      const j = i % this.data.chunk;
      // Screens pack a chunk criterion by criterion (screen_summary.by_column); outcomes a list.
      const record = this.kind === "outcomes" ? chunk[j] : {
        source: chunk.source[j], problems: chunk.problems[j],
        criteria: chunk.criteria.map((cells) => cells[j]) };
      const parts = this.kind === "outcomes" ? await this.outcomeDrill(i, record) : this.screenDrill(i, record);
      this.drill.replaceChildren(
        el("button", { class: "close", text: "close", on: { click: () => { this.drill.hidden = true; } } }),
        ...parts.filter((part) => part));
      this.drill.hidden = false;
      this.drill.scrollIntoView({ block: "nearest" });
    }

    screenDrill(i, record) {
      const d = this.data, v = d.verdict[i];
      const head = [el("h3", {}, "Patient ", el("span", { class: "drill-id", text: d.id[i] }), " ",
        el("span", { class: "badge v-" + v, text: VERDICT[v] })),
        el("p", { class: "muted", text: "source: " + (record.source || "-") })];
      if (record.problems) {
        return head.concat([el("p", { class: "error", text: "The record could not be read:" }),
          list(record.problems.map(([path, message]) => path + ": " + message))]);
      }
      const deciding = new Set(d.deciding[i]);
      const rows = d.criteria.map((c, k) => {
        const [evidence, missing, questions, more] = record.criteria[k];
        const code = d.results[i][k];
        return el("tr", { class: deciding.has(k) ? "deciding" : "" },
          el("td", { class: "mono", text: c.id }),
          el("td", {}, criterionBadge(c.section, code), el("div", { class: "muted", text: c.section })),
          el("td", {}, el("blockquote", { text: c.text }), evidenceList(evidence, more),
            list(missing.map((m) => "missing: " + m), "miss"), list(questions.map((q) => "ask: " + q), "ask")));
      });
      const table = el("table", { class: "criteria" },
        el("thead", {}, el("tr", {}, el("th", { text: "criterion" }), el("th", { text: "result" }),
          el("th", { text: "protocol text, evidence, missing, questions" }))),
        el("tbody", {}, ...rows));
      const note = d.deciding[i].length ? el("p", { class: "muted", text: "Highlighted: the criteria that decide the verdict." }) : null;
      return head.concat([note, table]);
    }

    async outcomeDrill(i, record) {
      const d = this.data;
      const head = [el("h3", {}, "Patient ", el("span", { class: "drill-id", text: d.id[i] })),
        el("p", { class: "muted", text: "source: " + (record.source || "-") })];
      if (record.problems) {
        return head.concat([el("p", { class: "error", text: "The record could not be read:" }),
          list(record.problems.map(([path, message]) => path + ": " + message))]);
      }
      if (record.chart >= 0) {
        const charts = await unpack(this.root.dataset.blob + "-charts-" + Math.floor(record.chart / d.charts_chunk));
        head.push(el("div", { class: "chart" }, el("img", { src: "data:image/svg+xml;base64," + charts[record.chart % d.charts_chunk],
          alt: "each outcome of patient " + d.id[i] + " at each visit" })));
      } else if (record.chart === -2) {
        head.push(el("p", { class: "muted", text: "No chart for this patient: the report draws at most " + d.charts_limit + " different charts; the table below has every result." }));
      }
      const visits = record.visits;
      const blocks = record.outcomes.map(([k, first, cells]) => {
        const o = d.outcomes[k];
        const rows = [];
        cells.forEach(([code, evidence, missing, questions, more], v) => {
          if (code === "j") return;
          rows.push(el("tr", {}, el("td", { text: visits[v][0] }), el("td", { class: "ev-date", text: visits[v][1] }),
            el("td", {}, badge(code)),
            el("td", {}, evidenceList(evidence, more), list(missing.map((m) => "missing: " + m), "miss"),
              list(questions.map((q) => "ask: " + q), "ask"))));
        });
        return el("div", { class: "outcome" },
          el("h4", {}, el("span", { class: "mono", text: o.id }), " · first met: " + first),
          el("blockquote", { text: o.text }),
          rows.length ? el("table", { class: "outcome-visits" },
            el("thead", {}, el("tr", {}, el("th", { text: "visit" }), el("th", { text: "date" }), el("th", { text: "result" }),
              el("th", { text: "evidence, missing, questions" }))),
            el("tbody", {}, ...rows)) : el("p", { class: "muted", text: "not judged at any of this patient's visits" }));
      });
      return head.concat(blocks);
    }
  }

  async function start() {
    const sections = document.querySelectorAll("section[data-blob]");
    for (const root of sections) {
      const data = await unpack(root.dataset.blob + "-table");
      root.report = new Section(root, data);
    }
    window.reportReadyMs = performance.now();
    document.documentElement.dataset.ready = "1";
  }

  start().catch((error) => {
    document.documentElement.dataset.ready = "error";
    const box = document.getElementById("script-error");
    if (box) { box.hidden = false; box.textContent = "The patient table could not be shown: " + error; }
    console.error(error);
  });
})();
