// Live view: the page as rendered, then every `live` server-sent event re-draws it from the snapshot it carries
// (GET /api/runs/{run}/live's JSON); ids not on the page before are marked `new`. Text only, never HTML from data.
(function () {
  const box = document.getElementById("live");
  if (!box || !window.EventSource) return;
  const run = box.dataset.run, colours = JSON.parse(box.dataset.colours || "{}");
  const seen = new Set(Array.from(document.querySelectorAll("#live-identities li[data-gid]")).map(li => li.dataset.gid));
  const state = document.getElementById("live-connection");

  function seconds(v) {
    if (v === null || v === undefined) return "-";
    const sign = v < 0 ? "-" : "", a = Math.abs(v);
    return a < 60 ? `${sign}${a.toFixed(1)} s` : `${sign}${Math.floor(a / 60)}:${(a % 60).toFixed(1).padStart(4, "0")}`;
  }
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v; else if (k.startsWith("data-")) e.dataset[k.slice(5)] = v; else e.setAttribute(k, v);
    }
    children.forEach(c => e.append(c));
    return e;
  }
  function idLink(gid) { return el("a", {href: `/runs/${run}/identities/${gid}`, text: `g${gid}`}); }
  function fill(list, items, empty, draw) {
    list.replaceChildren(...(items.length ? items.map(draw) : [el("li", {class: "empty", text: empty})]));
  }

  function draw(live) {
    document.getElementById("live-status").textContent = live.status;
    const header = document.getElementById("run-status");  // the page header's run status, too
    if (header) header.textContent = live.status;
    document.getElementById("live-status").className = `status-${live.status}`;
    document.getElementById("live-present").textContent = seconds(live.present);
    document.getElementById("live-total").textContent = live.identities_total;
    document.getElementById("live-cameras").replaceChildren(...live.cameras.map(c => {
      const people = el("ul", {class: "people"});
      fill(people, c.people, "nobody", p => el("li", {class: "person", "data-gid": p.global_id}, idLink(p.global_id), " ",
                                             el("small", {text: `since ${seconds(p.since)}`})));
      return el("section", {class: "live-camera", "data-camera": c.camera_id, style: `border-color: ${colours[c.camera_id] || "#999"}`},
                el("h3", {text: `${c.camera_id} `}, el("small", {class: "cam-state", text: `${c.status} · ${seconds(c.present)}`})),
                people);
    }));
    fill(document.getElementById("live-identities"), live.identities, "none yet", i => {
      const fresh = !seen.has(String(i.global_id));
      const when = i.given !== null ? `given at ${seconds(i.given)}` : `first seen ${seconds(i.first_seen)}`;
      return el("li", {"data-gid": i.global_id, class: fresh ? "new" : ""}, idLink(i.global_id), " ",
                el("small", {text: `${i.cameras.join(", ")} · ${when}`}));
    });
    live.identities.forEach(i => seen.add(String(i.global_id)));
    fill(document.getElementById("live-handovers"), live.handovers, "none yet", h =>
      el("li", {"data-gid": h.global_id, text: `g${h.global_id} ${h.from_camera} → ${h.to_camera} `},
         el("small", {text: `at ${seconds(h.entered)}`})));
    fill(document.getElementById("live-changes"), live.changes, "none", c =>
      el("li", {text: `${c.reason}: g${c.old_id} → g${c.new_id}${c.camera_id ? ` (${c.camera_id} track ${c.track_id})` : ""} `},
         el("small", {text: `at ${seconds(c.time)}`})));
  }

  const source = new EventSource(box.dataset.events);
  source.addEventListener("open", () => { state.textContent = "live"; });
  source.addEventListener("live", e => { draw(JSON.parse(e.data)); box.dataset.updates = String(+(box.dataset.updates || 0) + 1); });
  source.addEventListener("end", () => { state.textContent = "run ended"; source.close(); });
  source.addEventListener("error", () => { if (source.readyState !== EventSource.CLOSED) state.textContent = "reconnecting…"; });
})();
