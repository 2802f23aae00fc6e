"""The one masking rule for secrets (mtmct.core.secrets): what it hides, what it keeps, and that masked YAML/JSON
still loads (a stored config is read back)."""

from __future__ import annotations

import json
import logging

import pytest
import yaml

from mtmct.core.secrets import MaskingFormatter, has_secret, mask_secrets


@pytest.mark.parametrize(("text", "masked"), [
    ("rtsp://admin:CamPass123@host/stream", "rtsp://admin:***@host/stream"),
    ("rtsp://admin:CamPass123@10.0.0.5:554/h264", "rtsp://admin:***@10.0.0.5:554/h264"),
    ("rtsp://admin:p@ss@host/s", "rtsp://admin:***@host/s"),  # a raw '@' in the password: up to the last one
    ("cannot open rtsp://a:x@h/1 nor http://b:y@g/2", "cannot open rtsp://a:***@h/1 nor http://b:***@g/2"),
    ("http://cam/video.mjpg?user=a&password=CamPass123&fps=5", "http://cam/video.mjpg?user=a&password=***&fps=5"),
    ("http://cam/x?TOKEN=abc#frag", "http://cam/x?TOKEN=***#frag"),
    ("rtsp://host:554/stream", "rtsp://host:554/stream"),  # nothing secret: unchanged
    ("postgresql+psycopg://user:pw@db:5432/x", "postgresql+psycopg://user:***@db:5432/x"),
    ("videos/c1.mp4", "videos/c1.mp4"),
])
def test_mask_secrets(text, masked):
    assert mask_secrets(text) == masked
    assert has_secret(text) == (text != masked)
    assert mask_secrets(masked) == masked  # idempotent


def test_masked_yaml_and_json_still_load():
    cameras = [{"id": "c1", "source": "http://cam/x?token=abc"}, {"id": "c2", "source": "rtsp://a:CamPass1@h/s"}]
    flow = yaml.safe_dump({"cameras": cameras}, default_flow_style=True)
    quoted = "cameras:\n" + "".join(f"  - {{id: {c['id']}, source: '{c['source']}'}}\n" for c in cameras)
    for text, load in ((flow, yaml.safe_load), (quoted, yaml.safe_load), (json.dumps({"cameras": cameras}), json.loads)):
        loaded = load(mask_secrets(text))
        assert [c["source"] for c in loaded["cameras"]] == ["http://cam/x?token=***", "rtsp://a:***@h/s"]


def test_the_log_formatter_masks_messages_and_tracebacks():
    formatter = MaskingFormatter("%(message)s")
    try:
        raise OSError("cannot open rtsp://a:CamPass1@h/s")
    except OSError:
        import sys

        record = logging.LogRecord("x", logging.WARNING, __file__, 1, "camera %s failed", ("rtsp://a:CamPass1@h/s",),
                                   sys.exc_info())
    out = formatter.format(record)
    assert "CamPass1" not in out and out.count("rtsp://a:***@h/s") >= 2  # message and traceback
