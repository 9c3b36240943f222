"""Exceptions raised by amberfile.

``FormatError`` carries the specification's error class (``.error_class``, e.g.
``"Truncated"``) and the byte offset where the problem was found (``.offset``).
"""

from __future__ import annotations

from collections.abc import Iterable


class AmberError(Exception):
    """Base class of every amberfile exception."""


class FormatError(AmberError, ValueError):
    """The file is not a valid Amber file, or holds a graph that cannot be rebuilt."""

    def __init__(self, message: str, error_class: str = "InvalidGraph", offset: int = 0) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.offset = offset


class ChecksumError(FormatError):
    """A CRC-32 stored in the file does not match the bytes it covers."""


class StateError(FormatError):
    """A trusted type could not be rebuilt from the state the file gives it.

    Raised for any failure while resolving, constructing, validating or setting the state of
    an object: ``.type_name`` is its type, ``.path`` where it is in the file (the CLI's path
    syntax, e.g. ``estimators_/3/tree_``; ``""`` is the root), and ``__cause__`` the exception
    the library or the validator raised. The error class is InvalidGraph.
    """

    def __init__(self, message: str, type_name: str = "", path: str = "") -> None:
        super().__init__(message, "InvalidGraph", 0)
        self.type_name = type_name
        self.path = path


class DumpError(AmberError, TypeError):
    """``dump`` cannot write an object so that ``load`` rebuilds it exactly.

    ``.type_name`` is the object's type, ``.path`` where it sits in the graph (the CLI's path
    syntax, e.g. ``models/2/fn``; ``""`` is the root), and ``__cause__`` the exception that
    stopped it (its reduce failed, or a class or function cannot be found again by its name).
    Nothing was written under the target name.
    """

    def __init__(self, message: str, type_name: str = "", path: str = "") -> None:
        super().__init__(message)
        self.type_name = type_name
        self.path = path


class UntrustedTypeError(AmberError):
    """The file names types or functions the loading policy does not trust.

    Nothing was built. ``.types`` lists every untrusted name; pass the ones you trust
    as ``load(..., trusted=[...])``.
    """

    def __init__(self, types: Iterable[str]) -> None:
        self.types = sorted(types)
        super().__init__(
            "the file names untrusted types: "
            + ", ".join(self.types)
            + " (pass trusted=[...] to allow them)"
        )
