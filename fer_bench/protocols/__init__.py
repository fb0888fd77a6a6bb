"""Protocol stage: how a dataset is split into train / validation / test, leak-checked."""
from __future__ import annotations

from ..registry import PROTOCOLS
from .base import Protocol, Split, check_split

__all__ = ["Protocol", "Split", "check_split", "get_protocol"]


def get_protocol(name: str) -> Protocol:
    """The protocol registered as ``name``; ``cross:TRAIN->TEST`` builds a cross-dataset one."""
    base, sep, arg = name.partition(":")
    if base == "cross":
        train, arrow, test = arg.partition("->")
        if not (sep and arrow and train and test):
            raise KeyError(f"cross-dataset protocol {name!r} must read cross:TRAIN->TEST")
        return PROTOCOLS.get("cross").load()(train, test)
    return PROTOCOLS.get(name).load()()
