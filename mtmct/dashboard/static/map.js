// Ground map: the time slider places each identity at its (interpolated) ground position at time t, with a trail
// of its last few seconds; metres map to SVG pixels with the numbers the server wrote on the SVG (world_map.py).
(function () {
  const svg = document.getElementById("world-map");
  const slider = document.getElementById("map-time");
  if (!svg || !slider) return;
  const pad = parseFloat(svg.dataset.pad), scale = parseFloat(svg.dataset.scale);
  const minX = parseFloat(svg.dataset.minX), maxY = parseFloat(svg.dataset.maxY);
  const step = parseFloat(svg.dataset.step) || 0.1;
  const maxGap = Math.max(2 * step, 1.0);  // samples further apart than this are a gap: no interpolation across it
  const label = document.getElementById("map-time-label"), count = document.getElementById("map-count");
  const trailIn = document.getElementById("map-trail");

  function px(x, y) { return [pad + (x - minX) * scale, pad + (maxY - y) * scale]; }

  const ids = Array.from(svg.querySelectorAll("path.traj")).map(p => ({
    gid: p.dataset.gid,
    pts: p.dataset.track.split(";").map(s => s.split(",").map(Number)),
    dot: svg.querySelector(`circle.dot[data-gid="${p.dataset.gid}"]`),
    trail: svg.querySelector(`polyline.trail[data-gid="${p.dataset.gid}"]`),
    text: svg.querySelector(`text.dot-label[data-gid="${p.dataset.gid}"]`),
  }));

  function seconds(t) {
    return t < 60 ? `${t.toFixed(1)} s` : `${Math.floor(t / 60)}:${(t % 60).toFixed(1).padStart(4, "0")}`;
  }

  // the position at t: [x, y] in metres, or null when the identity is not on the ground then
  function at(pts, t) {
    if (t < pts[0][0] - step / 2 || t > pts[pts.length - 1][0] + step / 2) return null;
    let i = 0;
    while (i + 1 < pts.length && pts[i + 1][0] <= t) i++;
    const a = pts[i], b = pts[i + 1];
    if (t < a[0]) return [a[1], a[2]];
    if (!b || b[0] - a[0] > maxGap) return t - a[0] <= maxGap / 2 ? [a[1], a[2]] : null;
    const f = (t - a[0]) / (b[0] - a[0]);
    return [a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
  }

  function show(el, on) { el.setAttribute("visibility", on ? "visible" : "hidden"); }

  function update() {
    const t = parseFloat(slider.value), trail = Math.max(0, parseFloat(trailIn.value) || 0);
    let n = 0;
    ids.forEach(d => {
      const p = at(d.pts, t);
      show(d.dot, !!p); show(d.trail, !!p); show(d.text, !!p);
      if (!p) return;
      n++;
      const [u, v] = px(p[0], p[1]);
      d.dot.setAttribute("cx", u.toFixed(1)); d.dot.setAttribute("cy", v.toFixed(1));
      d.text.setAttribute("x", (u + 8).toFixed(1)); d.text.setAttribute("y", (v - 8).toFixed(1));
      const tail = d.pts.filter(q => q[0] >= t - trail && q[0] <= t).map(q => px(q[1], q[2]));
      tail.push([u, v]);
      d.trail.setAttribute("points", tail.map(q => `${q[0].toFixed(1)},${q[1].toFixed(1)}`).join(" "));
    });
    label.textContent = seconds(t);
    count.textContent = String(n);
    svg.dataset.time = String(t);
  }

  slider.addEventListener("input", update);
  trailIn.addEventListener("input", update);
  document.getElementById("map-controls").addEventListener("submit", e => e.preventDefault());
  update();
})();
