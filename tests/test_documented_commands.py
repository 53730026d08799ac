"""Every ``records-service`` command the README and docs/ show must parse as written.

``docs/deployment.md`` once told people to run ``retention run --fixity all``, an
option value that never existed. Here each command line quoted in the docs (in code
spans and code blocks) is parsed by the real command-line definition: the command
and its subcommands must exist, and every option and value must be accepted.
Nothing is run. Synopsis lines (with ``[optional]`` parts or ``a|b`` choices) are
left out; placeholders such as ``NAME`` parse as values, a path need not exist on
this machine, and a bare mention (``users disable``) may leave out its arguments.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from records_service.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SPAN = re.compile(r"`(records-service [^`]+)`")
BLOCK = re.compile(r"```[a-z]*\n(.*?)```", re.DOTALL)  # any language, so fences pair up
SYNOPSIS = re.compile(r"\[|\||\.\.\.|…")
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]+")  # NAME, ROLE, TOKEN_ID: stands for a value


def _commands(text: str) -> list[str]:
    found = SPAN.findall(text)
    for block in BLOCK.findall(text):
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("records-service "):
                found.append(line)
    return found


def _documented() -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for path in DOCS:
        for command in _commands(path.read_text(encoding="utf-8")):
            words = shlex.split(command.split(" #")[0].split(" > ")[0].rstrip("& "))
            if SYNOPSIS.search(command) or len(words) < 2:
                continue
            seen.setdefault(shlex.join(words), path.name)  # quoted values stay one word
    return sorted(seen.items())


def _parse(words: list[str]) -> None:
    """Resolve the subcommands of ``words`` and parse the rest, as click would."""
    command: click.Command = main
    context = click.Context(main, info_name="records-service")
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        found = command.get_command(context, words[0])
        if found is None:
            raise click.UsageError(f"no command {words[0]!r}")
        command, words = found, words[1:]
        context = click.Context(command, parent=context, info_name=command.name)
    command.make_context(command.name, words, parent=context)


def test_the_docs_quote_commands() -> None:
    # Guard the guard: if the patterns stopped matching, nothing would be checked.
    assert len(_documented()) > 20


@pytest.mark.parametrize(("command", "source"), _documented())
def test_a_documented_command_parses(command: str, source: str) -> None:
    try:
        with CliRunner().isolation(input="a password\na password\n"):  # for prompts
            _parse(shlex.split(command)[1:])
    except (click.exceptions.Exit, click.MissingParameter):
        pass  # --help or --version; a command named without its arguments
    except click.BadParameter as exc:
        # The refused value itself is a placeholder (ROLE for one of the roles).
        placeholder = any(
            PLACEHOLDER.fullmatch(word) and f"'{word}'" in exc.format_message()
            for word in shlex.split(command)
        )
        path = exc.param is not None and isinstance(exc.param.type, click.Path)
        if not (path or placeholder):
            pytest.fail(f"{source}: `{command}`: {exc.format_message()}")
    except click.ClickException as exc:
        pytest.fail(f"{source}: `{command}`: {exc.format_message()}")
