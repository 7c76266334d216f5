"""Command-line flags derived from the settings table (settings.py): each command gets the flags of the
settings declared for it, checked by the same rule as every other source, and hands back what was
given by setting name (``None``: not given, so the config file or the environment decides)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from groundhog.settings import SPECS, Spec, from_text, normalized, problem


def add_flags(parser: argparse.ArgumentParser, command: str) -> None:
    """The flags of every setting declared for ``command`` (``serve``, ``mcp``, ``people``, ...)."""
    for spec in SPECS.values():
        if spec.flag is None or command not in spec.commands:
            continue
        dest = _dest(spec)
        if spec.kind is bool:
            parser.add_argument(spec.flag, dest=dest, action="store_const", const=True, help=spec.help)
        else:
            parser.add_argument(
                spec.flag,
                dest=dest,
                type=_checked(spec),
                metavar=_metavar(spec),
                choices=spec.choices,
                help=_help(spec),
            )


def given(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """The settings given as flags, by name (absent flags are left out)."""
    values = {}
    for spec in SPECS.values():
        if spec.flag is not None and command in spec.commands:
            value = getattr(args, _dest(spec), None)
            if value is not None:
                values[spec.name] = value
    return values


def _dest(spec: Spec) -> str:
    return "setting_" + spec.name  # apart from the command's own arguments


def _checked(spec: Spec) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = from_text(spec, text)
        why = problem(spec, value)
        if why is not None:
            raise argparse.ArgumentTypeError(why)
        return normalized(spec, value)

    parse.__name__ = spec.name  # argparse names the type in its own messages
    return parse


def _metavar(spec: Spec) -> str | None:
    if spec.choices is not None:
        return None
    if spec.kind is int:
        return "N"
    if spec.flag in ("--store",):
        return "URL"
    if spec.path:
        return "PATH"
    return spec.name.split("_")[-1].upper()


def _help(spec: Spec) -> str:
    extra = []
    if spec.env:
        extra.append(f"env {spec.env}")
    if spec.config:
        extra.append(f"config {spec.name}")
    if spec.default not in (None, False):
        extra.append(f"default {spec.default}")
    return spec.help + (f" ({'; '.join(extra)})" if extra else "")
