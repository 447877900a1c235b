"""The ``ganzoo`` command line.

    ganzoo run RECIPE [key=value ...] [--fresh]   train (or resume) a run
    ganzoo bench RECIPE [key=value ...] [--iters N] [--warmup W] [--profile]
                                                  time training iterations on random inputs (one JSON line)
    ganzoo list [KIND]                            what is registered
    ganzoo translate MODEL --source IMG_OR_DIR (--attrs A=1,B=0 | --grid | --target D [--seed S] [--num K]
                     | --reference IMG_OR_DIR --target D) [--interpolate] --out OUT
                                                  translate images with a model (a run folder, a model folder
                                                  or a Hub id)
    ganzoo export RUN_DIR OUT_DIR                 write a run's model folder to OUT_DIR
    ganzoo convert FAMILY CKPT OUT_DIR --domains A,B [KEY=VALUE ...]
                                                  an official checkpoint as a model folder
    ganzoo align SRC_DIR OUT_DIR --fan-weights wing.ckpt --mean-landmarks celeba_lm_mean.npz [--size 256]
                                                  align the faces of photos as the training faces were
    ganzoo push RUN_OR_MODEL_DIR --repo-id USER/NAME [--private] [--dry-run OUT_DIR]
                                                  upload a model folder with a model card to the Hub
    ganzoo sample RUN_DIR [--num N] [--seed S] [--psi P] [--mixing] --out GRID.png|DIR/
                                                  images from noise (StyleGAN): a grid, one PNG per image, or
                                                  a style-mixing grid
    ganzoo eval RUN_OR_MODEL_DIR [--data ROOT] [--mode latent|reference|both] [--extractor NAME] ...
                                                  FID, KID and LPIPS under the model family's protocol
    ganzoo compare RUN_A RUN_B ...                the latest metrics of runs and the settings that differ

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
@click.argument("src_dir", type=click.Path(path_type=str))
@click.argument("out_dir", type=click.Path(path_type=str))
@click.option("--fan-weights", required=True, type=click.Path(path_type=str),
              help="The landmark network's weights (StarGAN v2: wing.ckpt).")
@click.option("--mean-landmarks", required=True, type=click.Path(path_type=str),
              help="The reference landmarks the faces are moved onto (StarGAN v2: celeba_lm_mean.npz).")
@click.option("--size", type=click.IntRange(min=64), default=256, show_default=True, help="Output size in pixels.")
@click.option("--detector", help="The landmark detector to align with (default: the only one that can).")
@click.option("--overwrite", is_flag=True, help="Replace outputs that exist (default: keep them, and say so).")
def align(src_dir: str, out_dir: str, fan_weights: str, mean_landmarks: str, size: int, detector: str | None,
          overwrite: bool) -> None:
    """Align the faces of the photos below SRC_DIR as the training faces were, into OUT_DIR (same relative paths,
    PNG). Files that cannot be read or aligned are listed and skipped; exit code 0 unless none could be aligned."""
    from .align import align_folder

    def report(line: str) -> None:
        _err.print(line, markup=False, highlight=False, soft_wrap=True)

    done = align_folder(src_dir, out_dir, weights=fan_weights, reference=mean_landmarks, size=size,
                        detector=detector, overwrite=overwrite, report=report)
    report(f"Aligned {len(done.written)} images into {out_dir}; kept {len(done.kept)} existing, skipped "
           f"{len(done.skipped)}.")


@cli.command()
@click.argument("model", type=click.Path(path_type=str))
@click.option("--source", required=True, type=click.Path(path_type=str), help="An image, or a folder of images.")
@click.option("--attrs", help="Label changes NAME=VALUE[,NAME=VALUE...], e.g. Blond_Hair=1,Male=0. Labels not "
                              "named keep the value the model's classifier predicts for the source image.")
@click.option("--grid", is_flag=True, help="The test grid instead: each single-label change in turn (attribute "
                                          "editors), or every domain with the style --seed draws (style translators).")
@click.option("--target", help="Translate to this domain with the styles of --seed .. --seed + --num - 1, or, with "
                               "--reference, the references' domain.")
@click.option("--reference", type=click.Path(path_type=str), help="Reference image, or folder of them (of the "
                                                                   "--target domain): translate with their styles.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the first style drawn for --target.")
@click.option("--num", type=click.IntRange(min=1), default=1, show_default=True, help="Styles drawn for --target.")
@click.option("--interpolate", is_flag=True, help="Write the official-style interpolation between the styles "
                                                  "(of --num seeds, at least 2, or of the references) as a GIF, or "
                                                  "MP4 with imageio-ffmpeg installed; --out anim.gif / anim.mp4.")
@click.option("--out", required=True, type=click.Path(path_type=str),
              help="Output PNG: one image, or a grid with the sources down the left (GIF/MP4 with --interpolate).")
def translate(model: str, source: str, attrs: str | None, grid: bool, target: str | None, reference: str | None,
              seed: int, num: int, interpolate: bool, out: str) -> None:
    """Translate images with MODEL: a run folder, a model folder, or a Hugging Face Hub id (user/name).

    What is possible depends on the model: --attrs and --grid edit labels (StarGAN v1); --target, --reference,
    --grid and --interpolate translate with styles (StarGAN v2).
    """
    from .translate import translate as run_translate

    written = run_translate(model, source, out, attrs=attrs, grid=grid, target=target, reference=reference, seed=seed,
                            num=num, interpolate=interpolate)
    _err.print(f"Wrote {written}", highlight=False)


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=str))
@click.argument("out_dir", type=click.Path(path_type=str))
def export(run_dir: str, out_dir: str) -> None:
    """Write the model of RUN_DIR (a run folder or a model folder, any format version) to OUT_DIR as a model folder
    in the current format, with a model card: ready for ganzoo.from_pretrained and the Hub."""
    from .pretrained import export_model

    _err.print(f"Wrote {export_model(run_dir, out_dir)}", highlight=False)


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("family")
@click.argument("checkpoint", type=click.Path(path_type=str))
@click.argument("out_dir", type=click.Path(path_type=str))
@click.argument("settings", nargs=-1)
@click.option("--domains", "--attrs", "names", required=True,
              help="The domain (label, attribute) names, comma-separated, in the order the model was trained with.")
def convert(family: str, checkpoint: str, out_dir: str, settings: tuple[str, ...], names: str) -> None:
    """Convert an official CHECKPOINT of FAMILY (stargan-v2: *_nets_ema.ckpt or *_nets.ckpt; stargan-v1:
    {i}-G.ckpt beside {i}-D.ckpt) into the model folder OUT_DIR.

    Sizes are read from the tensor shapes; SETTINGS (dotted KEY=VALUE, e.g. data.img_size=256) are checked
    against them and supply what the shapes do not tell.
    """
    from .convert import convert as run_convert

    folder, report = run_convert(family, checkpoint, out_dir, [name.strip() for name in names.split(",")], settings)
    for line in report:
        _err.print(f"  {line}", highlight=False)
    _err.print(f"Wrote {folder}", highlight=False)


@cli.command()
@click.argument("path", metavar="RUN_OR_MODEL_DIR", type=click.Path(path_type=str))
@click.option("--repo-id", required=True, help="Hub repository USER/NAME (or ORGANISATION/NAME); created if absent.")
@click.option("--private", is_flag=True, help="Create the repository as private.")
@click.option("--dry-run", "dry_run", metavar="OUT_DIR", type=click.Path(path_type=str),
              help="Write exactly the files that would be uploaded into OUT_DIR (new or empty) and upload nothing.")
def push(path: str, repo_id: str, private: bool, dry_run: str | None) -> None:
    """Upload the model RUN_OR_MODEL_DIR exported (a run folder or its model/ folder) to the Hugging Face Hub,
    with a model card (README.md), the newest sample grids and the resolved recipe.

    Uses the token of `hf auth login` (or HF_TOKEN) and HF_ENDPOINT.
    """
    from .push import push as run_push

    where = run_push(path, repo_id, private=private, dry_run=dry_run)
    _err.print(f"Wrote {where}" if dry_run is not None else f"Pushed {repo_id}: {where}", highlight=False)


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=str))
@click.option("--num", type=click.IntRange(min=1), default=16, show_default=True,
              help="Images (with --mixing: image pairs, one row each).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the latents and noise (--mixing: the second images come from SEED+1).")
@click.option("--psi", type=float, default=1.0, show_default=True,
              help="Truncation psi: 1 is none, 0 gives the average image; 0.7 is the papers' figures.")
@click.option("--mixing", is_flag=True, help="Write the style-mixing grid: coarse, middle and fine styles of "
                                              "the first images taken from the second ones.")
@click.option("--out", required=True, type=str, help="A .png grid, or a folder ending in '/' for one PNG per image.")
def sample(run_dir: str, num: int, seed: int, psi: float, mixing: bool, out: str) -> None:
    """Make images from noise with the model RUN_DIR exported (RUN_DIR/model/; the model folder itself works too),
    whose training method must sample from noise (StyleGAN). The same seed gives the same images."""
    from .sample import sample as run_sample

    written = run_sample(run_dir, out, num=num, seed=seed, psi=psi, mixing=mixing)
    _err.print(f"Wrote {written[0] if len(written) == 1 else f'{len(written)} images to {out}'}", highlight=False)


@cli.command("eval")
@click.argument("run_dir", type=click.Path(path_type=str))
@click.option("--data", help="Dataset root with train/ and val/ (default: the run's data.root).")
@click.option("--mode", type=click.Choice(["latent", "reference", "both"]), default="both", show_default=True)
@click.option("--extractor", default="inception", show_default=True,
              help="Feature network: inception (torchvision, the StarGAN v2 protocol's), inception-tf (the TF-FID "
                   "Inception of pytorch-fid/clean-fid/StyleGAN), or timm:MODEL.")
@click.option("--feature-weights", default="", help="Weights of the feature network: a .pth/.safetensors file, "
                                                    "hf-hub:OWNER/REPO/FILE, or 'random'.")
@click.option("--lpips-weights", default="", help="LPIPS AlexNet weights (torchvision alexnet-owt-7be5be79.pth or "
                                                  "the StarGAN v2 LPIPS state dict), or 'random'.")
@click.option("--num-outs", type=click.IntRange(min=1), default=10, show_default=True,
              help="Outputs per validation image.")
@click.option("--seed", type=click.IntRange(min=0), default=777, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Source images per batch (LPIPS is averaged per batch, as the official code does).")
@click.option("--save-images", is_flag=True, help="Also write every translation as PNG (StarGAN v2 protocol).")
@click.option("--judge", "judge_model", default="resnet10t", show_default=True,
              help="Attribute editing (StarGAN v1): the timm model of the judge classifier, trained on the real "
                   "training images (once; cached in RUN/eval/judges/).")
@click.option("--judge-weights", default="", help="Attribute editing: a trained judge's state dict to use instead.")
@click.option("--judge-epochs", type=click.IntRange(min=1), default=10, show_default=True,
              help="Attribute editing: epochs of the judge's training.")
@click.option("--num-samples", type=click.IntRange(min=2), default=10000, show_default=True,
              help="Latent generators (StyleGAN): samples whose FID is measured (papers: 50000).")
@click.option("--psi", type=click.FloatRange(0.0, 1.0), default=1.0, show_default=True,
              help="Latent generators (StyleGAN): truncation psi of the samples (1: none, as papers report FID).")
@click.option("--out", type=click.Path(path_type=str), help="Results JSON (default: RUN/eval/eval-<time>.json).")
def eval_(run_dir: str, data: str | None, mode: str, extractor: str, feature_weights: str, lpips_weights: str,
          num_outs: int, seed: int, batch_size: int, save_images: bool, judge_model: str, judge_weights: str,
          judge_epochs: int, num_samples: int, psi: float, out: str | None) -> None:
    """Metrics of the model RUN_DIR exported (a run folder or its model/ folder), under its family's protocol
    (StarGAN v2: FID, KID and LPIPS over every ordered domain pair, latent and reference modes; StarGAN v1: a
    separately trained judge's accuracy and FID per attribute change; StyleGAN: FID and KID of --num-samples samples
    at truncation --psi). Nothing is downloaded: pass the weights
    files of the networks, or 'random' for numbers that compare only with each other."""
    from .evaluation.command import eval_config, evaluate
    from .evaluation.judge import JudgeSettings

    config = eval_config(mode=mode, extractor=extractor, feature_weights=feature_weights, lpips_weights=lpips_weights,
                         num_outs=num_outs, seed=seed, batch_size=batch_size, num_samples=num_samples, psi=psi)
    judge = JudgeSettings(model=judge_model, weights=judge_weights, epochs=judge_epochs, seed=seed)
    results, path = evaluate(run_dir, config, data=data, out=out, save_images=save_images, judge=judge,
                             console=_err)
    if "judge_accuracy" in results:
        _err.print(f"judge_accuracy (held-out real images): {results['judge_accuracy']:.4f}", highlight=False)
    for key in sorted(k for k in results if k.endswith("/mean")):
        _err.print(f"{key}: {results[key]:.4f}", highlight=False)
    _err.print(f"{results['num_generated']} images in {results['wall_time_s']:.1f} s "
               f"({results['images_per_s']:.1f} images/s). Wrote {path}", highlight=False)


@cli.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=str))
def compare(runs: tuple[str, ...]) -> None:
    """A table of RUNS: the recipe settings that differ between them, then the mean metrics of each run's latest
    evaluation (RUN/eval/*.json, newest first) and what they were measured with."""
    from .evaluation.compare import compare as run_compare

    columns, rows = run_compare(runs)
    table = Table(title="ganzoo compare")
    for column in ("", *columns):
        table.add_column(column)
    for name, cells in rows:
        table.add_row(name, *cells)
    Console().print(table)


@cli.command("list", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, metavar="[KIND [NAME]]")
@click.option("--recipe", type=click.Path(path_type=str),
              help="List the learning rate each network of this recipe effectively trains at instead; ARGS are then "
                   "key=value overrides.")
def list_(args: tuple[str, ...], recipe: str | None) -> None:
    """List registered plugins, optionally of one KIND (generator, discriminator, style_source, loss,
    method, dataset, feature_extractor, landmark_detector); with a NAME, list that plugin's recipe options. With --recipe RECIPE [key=value ...], list
    each network's optimizer learning rate, learning-rate multiplier and effective learning rate."""
    if recipe is not None:
        _print_learning_rates(recipe, args)
        return
    if len(args) > 2:
        raise click.UsageError(f"ganzoo list takes at most KIND and NAME, got {' '.join(args)}.")
    kind, name = (*args, None, None)[:2]
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


def _print_learning_rates(recipe: str, overrides: tuple[str, ...]) -> None:
    from .learning_rates import learning_rates
    from .recipe import load_recipe
    from .run_state import seeded_method

    table = Table(title=f"learning rates of {recipe} (effective lr = optimizer lr x lr multiplier)")
    for column in ("network", "parameters", "optimizer lr", "lr multiplier", "effective lr", "relative step"):
        table.add_column(column, overflow="fold")
    for row in learning_rates(seeded_method(load_recipe(recipe, overrides))):
        keys = f" ({', '.join(row.keys)})" if row.keys else ""
        relative = "-" if row.relative_step is None else f"{row.relative_step:.2g}"
        table.add_row(row.network, f"{row.parameters:,}", f"{row.lr:g}{keys}", f"{row.multiplier:g}",
                      f"{row.effective:g}", relative)
    console = Console()
    console.print(table)
    console.print("relative step: Adam's step (about the lr) over each weight tensor's root mean square, the median "
                  "per row: the fraction by which the weights change per step.", highlight=False)


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
