"""Reports: Markdown tables and PNG figures rendered from a result store's records alone."""
from __future__ import annotations

from .build import write_reports

__all__ = ["write_reports"]
