// The paper table's sorting and filters, expanding transcripts, and (when served by
// `review-bench view`) reloading when the runs change. Plain DOM: no library, no network.
"use strict";

function cellValue(row, column) {
  const cell = row.cells[column];
  return cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
}

function compare(a, b, numeric) {
  if (a === "" && b === "") return 0;
  if (a === "") return 1;  // empty cells last, whichever the direction
  if (b === "") return -1;
  return numeric ? Number(a) - Number(b) : a.localeCompare(b, undefined, { numeric: true });
}

function setUpPaperTable(table) {
  const body = table.tBodies[0];
  const headers = Array.from(table.tHead.rows[0].cells);
  headers.forEach((header, column) => {
    header.addEventListener("click", () => {
      const direction = header.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
      headers.forEach((other) => other.removeAttribute("aria-sort"));
      header.setAttribute("aria-sort", direction);
      const numeric = header.dataset.type === "number";
      const sign = direction === "ascending" ? 1 : -1;
      const keyed = Array.from(body.rows, (row) => [cellValue(row, column), row]);
      keyed.sort(([x], [y]) => (x === "" || y === "" ? compare(x, y, numeric) : sign * compare(x, y, numeric)));
      const sorted = document.createDocumentFragment();
      keyed.forEach(([, row]) => sorted.appendChild(row));
      body.appendChild(sorted);
    });
  });

  const controls = {
    search: document.getElementById("search"),
    human: document.getElementById("human"),
    disagree: document.getElementById("disagree"),
    contradicts: document.getElementById("contradicts"),
    failed: document.getElementById("failed"),
    hidden: document.getElementById("hidden"),
  };
  const count = document.getElementById("count");
  function filter() {
    const words = controls.search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const row of body.rows) {
      const visible =
        words.every((word) => row.dataset.search.includes(word)) &&
        (!controls.human.value || row.dataset.accepted === controls.human.value) &&
        ["disagree", "contradicts", "failed", "hidden"].every(
          (flag) => !controls[flag].checked || row.dataset[flag] === "1");
      row.hidden = !visible;
      shown += visible;
    }
    count.textContent = `${shown} of ${body.rows.length} papers`;
  }
  document.getElementById("filters").addEventListener("input", filter);
  document.getElementById("filters").addEventListener("submit", (event) => event.preventDefault());
  filter();
}

function setUpDetails() {
  // The calls, not the long texts (the paper) they refer to: those open one by one.
  const all = () => document.querySelectorAll("section.transcripts details:not(.texts):not(.block)");
  const expand = document.getElementById("expand-all");
  const collapse = document.getElementById("collapse-all");
  if (expand) expand.addEventListener("click", () => all().forEach((d) => { d.open = true; }));
  if (collapse) collapse.addEventListener("click", () => all().forEach((d) => { d.open = false; }));
  // A link to a message inside closed <details> opens them.
  function reveal() {
    const target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
    for (let node = target; node; node = node.parentElement) {
      if (node.tagName === "DETAILS") node.open = true;
    }
    if (target) target.scrollIntoView();
  }
  window.addEventListener("hashchange", reveal);
  reveal();
}

function followLiveRuns() {
  // Only when served by `review-bench view`: it answers /_version with a number that
  // changes whenever it rebuilt the site from the runs.
  if (!location.protocol.startsWith("http")) return;
  const stamp = document.querySelector('meta[name="review-bench-version"]');
  let seen = stamp ? stamp.content : null;
  setInterval(async () => {
    try {
      const version = await (await fetch("/_version", { cache: "no-store" })).text();
      if (seen !== null && version !== seen) location.reload();
      seen = version;
    } catch (error) {
      // the server stopped: keep the page as it is
    }
  }, 2000);
}

const table = document.getElementById("papers");
if (table) setUpPaperTable(table);
setUpDetails();
followLiveRuns();
