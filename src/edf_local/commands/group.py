"""The ``edf local`` command group, shared by every edf_local command that adds a ``local`` action."""

from __future__ import annotations

import argparse


def local_group(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Return the ``edf local`` sub-parsers, creating the group on first use."""
    existing = sub.choices.get("local")
    if existing is not None:
        for action in existing._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action
    local = sub.add_parser("local", help="helpers for the local emulation (tokens, accuracy run, ...)",
                           description="Helpers for running EDF on this machine against an emulated AWS.")
    return local.add_subparsers(dest="local_command", metavar="LOCAL_COMMAND", required=True)
