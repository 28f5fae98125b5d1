"""nmtprune: attention LSTM NMT and weight pruning (See, Luong & Manning 2016)."""
__version__ = "0.1.0"

from .errors import NmtpruneError  # noqa: E402,F401


def __getattr__(name):
    # The API pulls in torch; import it lazily so `nmtprune --help` stays fast.
    if name in ("prepare", "train", "translate", "evaluate", "retrain"):
        from . import api
        return getattr(api, name)
    raise AttributeError(name)
