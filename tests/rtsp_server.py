"""A real RTSP server for the stream tests: GStreamer's gst-rtsp-server (Debian: gir1.2-gst-rtsp-server-1.0 and
gstreamer1.0-plugins-good, driven from the system's python3-gi, which the venv does not have), serving a folder of
JPEG frames as RTP/JPEG on 127.0.0.1. Every connection gets its own session from the first frame, so a client that
reconnects after the stream ends gets the frames again.

Run:  /usr/bin/python3 tests/rtsp_server.py FOLDER FPS   (prints "ready PORT" once it listens; stop it with SIGTERM)
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
folder, fps = sys.argv[1], int(sys.argv[2])
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service("0")  # any free port, printed below
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(f"( multifilesrc location={folder}/%06d.jpg index=1 loop=false caps=image/jpeg,framerate={fps}/1 "
                   "! jpegparse ! identity sync=true ! rtpjpegpay name=pay0 pt=26 )")  # at the stream's fps, as a camera
factory.set_shared(False)
server.get_mount_points().add_factory("/cam", factory)
server.attach(None)
print("ready", server.get_bound_port(), flush=True)
GLib.MainLoop().run()
