"""maildiag: explain why mail fails authentication or lands in junk."""

__version__ = "0.1.0"
