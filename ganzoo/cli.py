"""The ``ganzoo`` command line.

    ganzoo run RECIPE [key=value ...] [--fresh]   train (or resume) a run
    ganzoo bench RECIPE [key=value ...] [--iters N] [--warmup W] [--profile]
                                                  time training iterations on random inputs (one JSON line)
    ganzoo list [KIND]                            what is registered
    ganzoo translate RUN_DIR --source IMG_OR_DIR (--attrs A=1,B=0 | --grid) --out OUT.png
                                                  edit the labels of images with a trained model
                                                  (RUN_DIR: a run folder or its model/ folder)

Errors the user can fix (a full disk or an unwritable folder among them) print one message and exit with
code 2; a run stopped by Ctrl-C, SIGTERM or SIGUSR1 saves a checkpoint and exits with code 75 ("stopped,
resumable"). ``ganzoo --debug ...`` also shows the traceback.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from rich.console import Console
from rich.table import Table

from . import __version__, registry
from .errors import GanzooError, OutputError

_state = {"debug": False}
_err = Console(stderr=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors.")
@click.version_option(__version__, prog_name="ganzoo")
def cli(debug: bool) -> None:
    """ganzoo: train, compare and share StarGAN v1, StarGAN v2 and StyleGAN-style models."""
    _state["debug"] = debug


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("recipe", type=click.Path(path_type=str))
@click.argument("overrides", nargs=-1)
@click.option("--fresh", is_flag=True, help="Delete this run's checkpoints and start over.")
def run(recipe: str, overrides: tuple[str, ...], fresh: bool) -> None:
    """Train from RECIPE (a YAML file or a run folder), with dotted key=value OVERRIDES.

    Running again on the same output_dir resumes from its newest checkpoint.
    """
    from .recipe import load_recipe
    from .trainer import train

    train(load_recipe(recipe, overrides), fresh=fresh, console=_err)


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("recipe", type=click.Path(path_type=str))
@click.argument("overrides", nargs=-1)
@click.option("--iters", type=click.IntRange(min=1), default=5, show_default=True, help="Timed iterations.")
@click.option("--warmup", type=click.IntRange(min=0), default=1, show_default=True,
              help="Untimed iterations first (allocation, compilation).")
@click.option("--profile", is_flag=True, help="Profile one more iteration: seconds per operator category "
                                              "(convolutions forward/backward, normalisation, layout copies, ...).")
def bench(recipe: str, overrides: tuple[str, ...], iters: int, warmup: int, profile: bool) -> None:
    """Time training iterations of RECIPE's model on random inputs (no dataset needed).

    Prints one JSON line on stdout (s_per_iter, img_per_s, peak_rss_mb, the CPU and its features, the layout and
    precision used, ...); a table on stderr when it is a terminal, and any warning on stderr.
    """
    import json

    from .bench import bench as run_bench, print_table
    from .recipe import load_recipe

    result = run_bench(load_recipe(recipe, overrides), iters=iters, warmup=warmup, profile=profile)
    for warning in result["warnings"]:
        _err.print(warning)
    if _err.is_terminal:
        print_table(result, _err)
    click.echo(json.dumps(result))


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=str))
@click.option("--source", required=True, type=click.Path(path_type=str), help="An image, or a folder of images.")
@click.option("--attrs", help="Label changes NAME=VALUE[,NAME=VALUE...], e.g. Blond_Hair=1,Male=0. Labels not "
                              "named keep the value the model's classifier predicts for the source image.")
@click.option("--grid", is_flag=True, help="The test grid instead: each single-label change in turn.")
@click.option("--out", required=True, type=click.Path(path_type=str),
              help="Output PNG: one row per source image, the source first.")
def translate(run_dir: str, source: str, attrs: str | None, grid: bool, out: str) -> None:
    """Edit the labels (attributes, classes) of images with the model RUN_DIR exported (RUN_DIR/model/; the model
    folder itself works too), whose training method must be able to edit attributes."""
    from .translate import translate as run_translate

    _err.print(f"Wrote {run_translate(run_dir, source, out, attrs=attrs, grid=grid)}", highlight=False)


@cli.command("list")
@click.argument("kind", required=False)
@click.argument("name", required=False)
def list_(kind: str | None, name: str | None) -> None:
    """List registered plugins, optionally of one KIND (generator, discriminator, style_source, loss,
    method, dataset); with a NAME, list that plugin's recipe options."""
    if name is not None:
        _print_options(kind, name)
        return
    table = Table(title="ganzoo registry")
    for column in ("kind", "name", "from", "description"):
        table.add_column(column)
    for entry in registry.entries(kind):
        table.add_row(entry.kind, entry.name, entry.source, entry.summary)
    Console().print(table)


def _exit_with(error: GanzooError) -> NoReturn:
    """Print ``error``'s message alone (with its traceback under --debug) and exit with its code."""
    if _state["debug"]:
        raise error
    _err.print(f"[bold red]Error:[/] {error}", highlight=False, soft_wrap=True)
    sys.exit(error.exit_code)


def _print_options(kind: str, name: str) -> None:
    from .schema import describe_fields

    options = describe_fields(registry.get(kind, name).Config)
    if not options:
        Console().print(f"{kind} {name!r} has no options.")
        return
    table = Table(title=f"options of {kind} {name!r}")
    for column in ("option", "type", "default", "description"):
        table.add_column(column)
    for option, type_name, default, doc in options:
        table.add_row(option, type_name, repr(default), doc)
    Console().print(table)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning user errors (and a file that cannot be written for want of space or
    permission) into one message and the error's exit code (2; 75 for a run stopped on request)."""
    try:
        cli.main(args=argv, prog_name="ganzoo", standalone_mode=False)
    except GanzooError as exc:
        _exit_with(exc)
    except OSError as exc:
        error = OutputError.from_os_error(exc)
        if error is None:
            raise
        _exit_with(error)
    except click.exceptions.Abort:
        _err.print("Aborted.")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
