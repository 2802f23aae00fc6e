"""Camera passwords out of everything the dashboard shows or logs, at output (defence in depth).

Storage masks what it stores (:func:`mtmct.core.secrets.mask_secrets`), but runs stored by older versions hold
sources, configs and errors verbatim, and an exception may quote a URL. So the dashboard masks again where text
leaves it: camera rows before any JSON model or page sees them (:func:`public_camera`), every error message
(``app._error``), every ``{{ ... }}`` of every template (:func:`finalize`, the Jinja environment's finalizer) and
the log records of the code a request runs (:func:`mask_logs`).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from markupsafe import Markup

from mtmct.core.secrets import MaskingFormatter, mask_secrets
from storage.repository import CameraInfo

# loggers whose records a request can produce: ours and the storage and camera code we call. Not uvicorn's: its
# access formatter reads the record's args, which the filter may drop; its handlers' output is masked instead
LOGGER_PREFIXES = ("mtmct", "storage", "cameras")
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def public_camera(cam: CameraInfo) -> CameraInfo:
    """``cam`` as it may be shown: source and error masked (the raw row is only for opening the source)."""
    return dataclasses.replace(cam, source=None if cam.source is None else mask_secrets(cam.source),
                               error=None if cam.error is None else mask_secrets(cam.error))


def finalize(value: Any) -> Any:
    """Jinja's finalizer: every string a template prints is masked (escaped markup stays markup)."""
    if isinstance(value, Markup):
        return Markup(mask_secrets(str(value)))
    return mask_secrets(value) if isinstance(value, str) else value


class MaskingFilter(logging.Filter):
    """Rewrites a record's message (and traceback) masked before any handler formats it, so even a handler
    without :class:`MaskingFormatter` (a test's caplog, a library's own) never gets a password."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_secrets(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_secrets(record.stack_info)
        return True


_FILTER = MaskingFilter()


class _MaskedFormatter(logging.Formatter):
    """Another formatter's output, masked (keeps uvicorn's coloured formats as they are)."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(self.inner.format(record))


def mask_logs() -> None:
    """Install :class:`MaskingFilter` on every logger a request can reach (idempotent), and mask the output of
    the root's and uvicorn's handlers (uvicorn configures its own after the CLI did)."""
    names = [n for n in logging.Logger.manager.loggerDict if n.split(".")[0] in LOGGER_PREFIXES]
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for logger in (logging.getLogger(), *map(logging.getLogger, SERVER_LOGGERS)):
        for handler in logger.handlers:
            formatter = handler.formatter
            if not isinstance(formatter, MaskingFormatter | _MaskedFormatter):
                handler.setFormatter(_MaskedFormatter(formatter or logging.Formatter()))
