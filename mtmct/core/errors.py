"""The one error type users see: a one-line message, no traceback, from the CLI."""


class MtmctError(Exception):
    """A problem with the user's input or environment, phrased so the user can fix it.

    The CLI prints ``str(error)`` on one line and exits non-zero; library callers can catch it.
    """
