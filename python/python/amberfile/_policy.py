"""The loading policy: the one object the Rust loader (``python/src/decode.rs``) consults
about a file's names. What may be named is ``_trust``'s (``check``, ``resolve``); how a
trusted name becomes an object is ``_rebuild``'s (``construct``, ``set_state``)."""

from __future__ import annotations

from typing import Any

from . import _rebuild
from ._trust import Trust


class Policy(Trust):
    """The default trust set plus the caller's ``trusted`` names, and the rebuilding of what
    they trust."""

    def construct(self, name: str, target: Any, args: tuple[Any, ...] | None, has_state: bool = True) -> Any:
        """The value of an ``object`` node named ``name`` (resolved as ``target``) with ``args``,
        before its state (if ``has_state``) is set (see ``_rebuild.construct``)."""
        return _rebuild.construct(self, name, target, args, has_state)

    def set_state(self, obj: Any, state: Any, with_items: bool) -> None:
        """Applies a reduce state (and list/dict items) to a new instance, as pickle does."""
        _rebuild.set_state(obj, state, with_items)
