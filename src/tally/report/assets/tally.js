// tally's HTML report: sorting and filtering the index, keyboard moves on file pages.
// No network, no libraries: the report works opened from disk.
"use strict";

function sortTable(table, column, descending) {
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const key = (row) => {
    const cell = row.cells[column];
    const value = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent;
    const number = Number(value);
    return Number.isNaN(number) ? value.toLowerCase() : number;
  };
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    const order = x < y ? -1 : x > y ? 1 : 0;
    return descending ? -order : order;
  });
  body.append(...rows);
  for (const th of table.tHead.rows[0].cells) th.removeAttribute("aria-sort");
  table.tHead.rows[0].cells[column].setAttribute("aria-sort", descending ? "descending" : "ascending");
}

function setUpIndex() {
  const table = document.querySelector("table.index");
  if (!table) return;
  const headers = Array.from(table.tHead.rows[0].cells);
  headers.forEach((th, column) => {
    th.tabIndex = 0;
    const toggle = () => sortTable(table, column, th.getAttribute("aria-sort") === "ascending");
    th.addEventListener("click", toggle);
    th.addEventListener("keydown", (e) => { if (e.key === "Enter") toggle(); });
  });
  const filter = document.getElementById("filter");
  filter.addEventListener("input", () => {
    const text = filter.value.toLowerCase();
    for (const row of table.tBodies[0].rows) {
      row.hidden = !row.cells[0].textContent.toLowerCase().includes(text);
    }
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && document.activeElement !== filter) { e.preventDefault(); filter.focus(); }
  });
}

function setUpFile() {
  const source = document.querySelector(".source");
  if (!source) return;
  const targets = Array.from(source.querySelectorAll("p.mis, p.par"));
  let at = -1;
  const go = (step) => {
    if (!targets.length) return;
    at = (at + step + targets.length) % targets.length;
    for (const p of source.querySelectorAll("p.current")) p.classList.remove("current");
    const line = targets[at];
    line.classList.add("current");
    line.scrollIntoView({ block: "center" });
  };
  const nav = document.body.dataset;
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j") go(1);
    else if (e.key === "k") go(-1);
    else if (e.key === "n" && nav.next) location.href = nav.next;
    else if (e.key === "p" && nav.prev) location.href = nav.prev;
    else if (e.key === "u" || e.key === "Escape") location.href = "index.html";
  });
}

// A line's context button shows or hides the names of the contexts that ran it, taken
// from the page's one list of names (textContent: names are never parsed as HTML).
function setUpContexts() {
  const list = document.getElementById("contexts");
  if (!list) return;
  const names = Array.from(list.children, (li) => li.textContent);
  for (const button of document.querySelectorAll("button.x")) {
    button.addEventListener("click", () => {
      const open = button.getAttribute("aria-expanded") === "true";
      button.setAttribute("aria-expanded", String(!open));
      const line = button.parentElement;
      let shown = line.querySelector(".xl");
      if (open) { if (shown) shown.hidden = true; return; }
      if (!shown) {
        shown = document.createElement("span");
        shown.className = "xl";
        for (const id of button.dataset.ctx.split(" ")) {
          const name = document.createElement("span");
          name.textContent = names[Number(id)];
          shown.append(name);
        }
        line.append(shown);
      }
      shown.hidden = false;
    });
  }
}

document.addEventListener("DOMContentLoaded", () => { setUpIndex(); setUpFile(); setUpContexts(); });
