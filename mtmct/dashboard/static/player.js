// A small player over the annotated JPEG frames: play/pause, step, slider; the next frame is fetched while the
// current one shows, so playback runs at the camera's fps when the server keeps up (and slower when it cannot).
(function () {
  const el = document.getElementById("player");
  if (!el) return;
  const img = document.getElementById("player-frame"), slider = document.getElementById("player-slider");
  const label = document.getElementById("player-label"), playBtn = document.getElementById("player-play");
  const last = parseInt(el.dataset.last, 10), period = 1000 / parseFloat(el.dataset.fps);
  let frame = parseInt(el.dataset.frame, 10), playing = false, timer = null;

  function url(n) { return el.dataset.src + n + ".jpg"; }
  function show(n, done) {
    frame = Math.min(Math.max(n, 1), last);
    const next = new Image();
    next.onload = () => { img.src = next.src; if (done) done(); };
    next.onerror = () => { label.textContent = `frame ${frame} / ${last} (unavailable)`; if (done) done(); };
    next.src = url(frame);
    slider.value = frame;
    label.textContent = `frame ${frame} / ${last}`;
    el.dataset.frame = frame;
  }
  function tick() {
    if (!playing) return;
    if (frame >= last) { setPlaying(false); return; }
    const started = performance.now();
    show(frame + 1, () => { timer = setTimeout(tick, Math.max(0, period - (performance.now() - started))); });
  }
  function setPlaying(on) {
    playing = on;
    playBtn.textContent = on ? "⏸ Pause" : "▶ Play";
    el.dataset.playing = on ? "1" : "0";
    clearTimeout(timer);
    if (on) tick();
  }
  playBtn.onclick = () => setPlaying(!playing);
  document.getElementById("player-prev").onclick = () => { setPlaying(false); show(frame - 1); };
  document.getElementById("player-next").onclick = () => { setPlaying(false); show(frame + 1); };
  slider.addEventListener("input", () => show(parseInt(slider.value, 10)));
})();
