"""The one exception type users see: a clear, one-line message.

The CLI catches :class:`NmtpruneError`, prints ``error: <message>`` to stderr and
exits with status 2. Anything else is a bug and keeps its traceback.
"""


class NmtpruneError(Exception):
    """A user-facing error (bad input, missing file, mismatched config)."""


def choose(kind: str, name: str, valid) -> str:
    """Return ``name`` if it is one of ``valid``; otherwise raise listing the choices."""
    valid = list(valid)
    if name not in valid:
        raise NmtpruneError(f"unknown {kind} {name!r}; valid: {', '.join(valid)}")
    return name
