# Two commands for a new user: `make demo` and `make test`. Both bootstrap .venv from the lock files.
# `make test-fast` is the edit loop: no ../shared, no PostgreSQL, no browser, under 2 minutes.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
STAMP  := $(VENV)/.installed
GPU    ?=
OUT    ?= out/demo

.PHONY: setup test test-fast demo lock clean browser rtsp

setup: $(STAMP)

$(STAMP): requirements.lock requirements-nodeps.lock requirements-gpu.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -r requirements.lock
	$(PIP) install -q --no-deps -r requirements-nodeps.lock
	if [ -n "$(GPU)" ]; then $(PIP) uninstall -q -y paddlepaddle faiss-cpu onnxruntime && $(PIP) install -q -r requirements-gpu.lock; fi
	$(PIP) install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

test: setup browser rtsp
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Deselects (never skips) what tests/conftest.py marks shared/postgres, and the slow tests; MTMCT_FAST=1 makes a
# test that reaches ../shared or PostgreSQL without its mark fail, so this tier cannot go green by skipping.
FAST_MARKS := not shared and not postgres and not slow
test-fast: setup
	MTMCT_FAST=1 $(VENV)/bin/pytest -q -m "$(FAST_MARKS)" $(PYTEST_ARGS)

# The dashboard tests drive Debian's headless Chromium; installed here when missing and we may (root + apt).
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium and chromium-driver for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "browser tests will be skipped: install chromium and chromium-driver (Debian packages) to run them"; fi

# The RTSP tests stream from GStreamer's RTSP server (tests/rtsp_server.py, run by the system python3); installed
# here when missing and we may (root + apt).
GST_RTSP := import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer
rtsp:
	@if /usr/bin/python3 -c "$(GST_RTSP)" 2>/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing gst-rtsp-server for the RTSP tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-gi \
	    gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good >/dev/null; \
	else echo "RTSP tests will be skipped: install python3-gi, gir1.2-gst-rtsp-server-1.0 and gstreamer1.0-plugins-good"; fi

demo: setup
	$(VENV)/bin/mtmct demo --out $(OUT)

# Re-pin after changing a direct dependency: resolves in a scratch venv and rewrites requirements.lock.
lock:
	rm -rf /tmp/mtmct-lock && $(PYTHON) -m venv /tmp/mtmct-lock
	/tmp/mtmct-lock/bin/pip install -q -e . pytest
	( echo "# Pinned runtime + test dependencies (CPU). Regenerate with \`make lock\`; paddledet comes from requirements-nodeps.lock."; \
	  /tmp/mtmct-lock/bin/pip freeze --all --exclude-editable | grep -v "^pip==" | grep -vi '^paddledet' ) > requirements.lock

clean:
	rm -rf $(VENV) out .pytest_cache
