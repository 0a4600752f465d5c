"""The library's version, which every run record names (`nst.record`)."""

__version__ = "0.2.0"
