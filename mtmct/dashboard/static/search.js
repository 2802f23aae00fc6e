// Search: a dropped or chosen photo is POSTed as multipart to /api/search; the ranked identities are listed
// with their crops and links to their pages. Errors (413, 415, 503...) show the server's one-line message.
(function () {
  const drop = document.getElementById("dropzone"), input = document.getElementById("search-file");
  const status = document.getElementById("search-status"), table = document.getElementById("results");

  function esc(s) { return String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c])); }

  async function search(file) {
    document.getElementById("query-img").src = URL.createObjectURL(file);
    document.getElementById("query-preview").hidden = false;
    status.textContent = "Searching…"; status.className = "muted"; table.hidden = true;
    const body = new FormData();
    body.append("file", file);
    const run = document.getElementById("search-run").value;
    if (run) body.append("run_id", run);
    body.append("top_k", document.getElementById("search-k").value || "10");
    let data;
    try {
      const res = await fetch("/api/search", { method: "POST", body });
      data = await res.json();
      if (!res.ok) throw new Error(data.error || res.statusText);
    } catch (err) {
      status.textContent = "Search failed: " + err.message; status.className = "error"; return;
    }
    const rows = [];
    data.queries.forEach((q, qi) => q.matches.forEach(m => {
      const who = m.url ? `<a class="result-link" href="${esc(m.url)}">g${m.global_id}</a>` : `${esc(m.camera_id)}/t${m.track_id}`;
      const seen = Object.entries(m.times).map(([c, t]) => `${esc(c)} ${t[0].toFixed(1)}–${t[1].toFixed(1)} s`).join("; ");
      const crop = m.crop_jpeg_base64 ? `<img class="crop" src="data:image/jpeg;base64,${m.crop_jpeg_base64}">` : "";
      rows.push(`<tr class="result" data-gid="${m.global_id}" data-cameras="${m.cameras.length}"><td class="num">${data.queries.length > 1 ? (qi + 1) + "." : ""}${m.rank}</td><td>${crop}</td><td>${who}</td><td>${esc(m.run_id)}</td><td class="num">${m.score.toFixed(3)}</td><td>${m.cameras.map(esc).join(", ")}</td><td>${seen}</td></tr>`);
    }));
    table.querySelector("tbody").innerHTML = rows.join("");
    table.hidden = rows.length === 0;
    status.textContent = rows.length ? `${rows.length} matches for ${data.queries.length} person(s) in the photo.` : "No matches.";
  }

  input.addEventListener("change", () => { if (input.files.length) search(input.files[0]); });
  ["dragenter", "dragover"].forEach(t => drop.addEventListener(t, ev => { ev.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach(t => drop.addEventListener(t, ev => { ev.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", ev => { if (ev.dataTransfer.files.length) search(ev.dataTransfer.files[0]); });
})();
