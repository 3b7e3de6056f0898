"""Weight-entangled supernet and its elastic layers."""

from search.supernet.model import Supernet

__all__ = ["Supernet"]
