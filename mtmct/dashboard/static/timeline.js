// Timeline: bars are positioned from their data-s / data-e seconds inside the visible window [t0, t1];
// zoom (wheel, buttons) and pan change the window, camera checkboxes and the time inputs filter rows.
(function () {
  const box = document.getElementById("timeline");
  if (!box) return;
  const full = [parseFloat(box.dataset.start), parseFloat(box.dataset.end)];
  let t0 = full[0], t1 = full[1];
  const bars = Array.from(box.querySelectorAll(".bar"));
  const rows = Array.from(box.querySelectorAll(".tl-row"));
  const checks = Array.from(document.querySelectorAll(".cam-filter"));
  const startIn = document.getElementById("tl-start"), endIn = document.getElementById("tl-end");

  function shownCameras() { return new Set(checks.filter(c => c.checked).map(c => c.value)); }

  function ticks() {
    const el = document.getElementById("tl-ticks");
    const span = t1 - t0, raw = span / 8, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw) || raw;
    let html = "";
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      html += `<span class="tick" style="left:${100 * (t - t0) / span}%">${+t.toFixed(2)} s</span>`;
    }
    el.innerHTML = html;
  }

  function layout() {
    const span = t1 - t0, cams = shownCameras();
    bars.forEach(b => {
      const s = parseFloat(b.dataset.s), e = parseFloat(b.dataset.e);
      const visible = cams.has(b.dataset.cam) && e >= t0 && s <= t1;
      b.style.display = visible ? "" : "none";
      if (!visible) return;
      const l = Math.max(s, t0), r = Math.min(e, t1);
      b.style.left = (100 * (l - t0) / span) + "%";
      b.style.width = Math.max(100 * (r - l) / span, 0.3) + "%";
    });
    let n = 0;
    rows.forEach(row => {
      const any = Array.from(row.querySelectorAll(".bar")).some(b => b.style.display !== "none");
      row.style.display = any ? "" : "none";
      n += any ? 1 : 0;
    });
    document.getElementById("tl-count").textContent = n;
    startIn.value = t0.toFixed(1); endIn.value = t1.toFixed(1);
    ticks();
  }

  function zoom(factor, at) {
    const centre = at === undefined ? (t0 + t1) / 2 : at;
    const span = Math.max((t1 - t0) * factor, 0.5);
    const frac = (centre - t0) / (t1 - t0);
    t0 = centre - frac * span; t1 = t0 + span;
    layout();
  }
  function pan(frac) { const d = (t1 - t0) * frac; t0 += d; t1 += d; layout(); }

  document.getElementById("zoom-in").onclick = () => zoom(0.5);
  document.getElementById("zoom-out").onclick = () => zoom(2);
  document.getElementById("pan-left").onclick = () => pan(-0.25);
  document.getElementById("pan-right").onclick = () => pan(0.25);
  document.getElementById("zoom-reset").onclick = () => { t0 = full[0]; t1 = full[1]; layout(); };
  box.addEventListener("wheel", ev => {
    ev.preventDefault();
    if (ev.shiftKey) { pan(Math.sign(ev.deltaY || ev.deltaX) * 0.1); return; }
    const track = box.querySelector(".tl-row .tl-track") || box.querySelector(".tl-track");
    const rect = track.getBoundingClientRect();
    const at = t0 + (t1 - t0) * Math.min(Math.max((ev.clientX - rect.left) / rect.width, 0), 1);
    zoom(ev.deltaY < 0 ? 0.8 : 1.25, at);
  }, { passive: false });
  checks.forEach(c => c.addEventListener("change", () => {
    document.getElementById("tl-cameras").value = Array.from(shownCameras()).join(",");
    layout();
  }));
  document.getElementById("tl-controls").addEventListener("submit", ev => {
    const s = parseFloat(startIn.value), e = parseFloat(endIn.value);
    if (!(e > s)) return;  // let the server answer the invalid window
    ev.preventDefault();
    t0 = s; t1 = e; layout();
  });
  layout();
})();
