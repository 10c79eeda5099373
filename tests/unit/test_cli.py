"""Every `edf` subcommand explains itself with --help (exit 0, non-empty description)."""

from __future__ import annotations

import argparse

import pytest

from edf.cli import build_parser, main


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, (*path, name))


COMMANDS = [path for path, _ in walk(build_parser())]


def test_there_are_subcommands():
    assert ("data", "validate") in COMMANDS and ("features", "build") in COMMANDS and ("demo",) in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "edf")
def test_help_for_every_subcommand(path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*path, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: edf")
    parser = dict(walk(build_parser()))[path]
    assert (parser.description or "").strip(), f"edf {' '.join(path)} has no description"


def test_unknown_subcommand_fails(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-command"])
    assert exit_info.value.code == 2
