"""Credentials out of anything shown or stored: one masking rule for camera URLs, database URLs and error text.

Camera sources such as ``rtsp://admin:CamPass123@host/stream`` carry passwords. Every place that shows, logs,
returns or stores a source (the dashboard, the API, stored configs and camera rows, error messages) passes it
through :func:`mask_secrets`, which keeps the user name (useful to tell cameras apart) and replaces the password
and secret-looking query values with ``***``. The unmasked source lives only in the user's config file and in the
process that opens it.
"""

from __future__ import annotations

import logging
import re

MASK = "***"

# scheme://user:password@ -- the password may hold anything but "/", quotes and whitespace, a raw "@" included (to
# the last "@"); quotes end it so a URL quoted in YAML or JSON stays loadable once masked
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^/\s'\"]+)@")
# ?password=... &token=... (common in HTTP camera URLs); the value ends where YAML/JSON punctuation begins
_QUERY = re.compile(r"(?P<key>[?&;](?:password|passwd|pwd|pass|token|access_token|api_key|apikey|key|secret|auth)=)"
                    r"(?P<value>[^&;#\s'\"{}\[\],]+)", re.IGNORECASE)


def mask_secrets(text: str) -> str:
    """``text`` with every URL password and secret query value replaced by ``***``; anything else unchanged."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return _QUERY.sub(lambda m: f"{m['key']}{MASK}", text)


def has_secret(text: str) -> bool:
    """Whether ``text`` holds something :func:`mask_secrets` would hide."""
    return mask_secrets(text) != text


class MaskingFormatter(logging.Formatter):
    """A log formatter that masks secrets in the whole formatted record, traceback included: installed by the
    CLI on its handlers, so no log line shows a camera password whatever a library put in its message."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(super().format(record))
