"""alliance: therapeutic alliance and PTSD outcome analyses for MDMA-assisted psychotherapy trials.

The pipeline's stages live in sub-packages in the order data flow through them:
``input`` → ``validation`` → ``instruments`` → ``episodes`` → ``models`` → ``inference`` → ``report``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("alliance-outcome")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
