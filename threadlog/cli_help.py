"""How `threadlog ... --help` reads: the terminal's width, examples never rewrapped, words as placeholders.

`App` is a `typer.Typer` whose commands all get `HelpCommand`, so a command added later
gets the same help without asking: an indented paragraph of a docstring (an example) is
printed as written, never wrapped mid-quote, and the arguments are shown by their
metavar (``LOG...``) rather than Python's types (``{logs}...``, ``<list[str]>``).
"""

from __future__ import annotations

import inspect
import shutil
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

__all__ = ["App", "HelpCommand", "HelpGroup", "keep_examples"]

NO_REWRAP = "\b"  # click's mark: the paragraph after it is printed as written


def keep_examples(text: str) -> str:
    """Mark every indented paragraph of a docstring so that the help prints it as written."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(NO_REWRAP + "\n" + p if p.startswith(" ") else p for p in paragraphs)


def _terminal_width(ctx: Any) -> None:
    """Help fills the terminal (click stops at 80 columns unless told); 2 columns spare, as click keeps."""
    ctx.terminal_width = max(shutil.get_terminal_size().columns - 2, 50)


def _argument_name(param: Any) -> str:
    name = param.metavar or param.name.upper()
    return name + ("..." if param.nargs != 1 else "")


class HelpCommand(TyperCommand):
    """A command whose help follows the rules in the module docstring."""

    def get_help(self, ctx: Any) -> str:
        _terminal_width(ctx)
        return super().get_help(ctx)

    def format_help_text(self, ctx: Any, formatter: Any) -> None:
        if self.help:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(keep_examples(self.help))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = _argument_name(param)
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        args, opts = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                args.append((_argument_name(param), param.help or ""))
            else:
                opts.append(record)
        for title, rows in (("Arguments", args), ("Options", opts)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class HelpGroup(TyperGroup):
    """The top-level command: the same help rules."""

    def get_help(self, ctx: Any) -> str:
        _terminal_width(ctx)
        return super().get_help(ctx)

    def format_help_text(self, ctx: Any, formatter: Any) -> None:
        HelpCommand.format_help_text(self, ctx, formatter)  # type: ignore[arg-type]


class App(typer.Typer):
    """`typer.Typer` whose commands default to `HelpCommand`."""

    def command(self, *args: Any, cls: type[TyperCommand] | None = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or HelpCommand, **kwargs)
