"""Every code block of the docs (docs/*.md and README.md) is exercised here, by a command CI runs, or carries
the visible marker ``*Not run in CI: needs ....*`` right before it. The rules are docs/writing-docs.md's."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from markdown_it import MarkdownIt

from ganzoo.cli import cli
from ganzoo.errors import GanzooError
from ganzoo.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]
PAGES = sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md"]
MARKER = re.compile(r"\*Not run in CI: needs [^*]+\.\*")
RULES = "see docs/writing-docs.md"
#: first words that make an indented block a shell block
SHELL_WORDS = ("ganzoo", "python", "python3", "pip", "accelerate", "torchrun", "mkdocs", "pytest", "bash", "srun",
               "sbatch", "hf", "git", "cd", "export", ".venv/")
RECIPE_SECTIONS = {"base", "output_dir", "data", "method", "train"}
SEPARATORS = {"&&", "||", ";", "|", "&"}
LANGUAGES = {"python", "bash", "yaml", "toml", "text"}
_INSTALL = re.compile(r"(?:\.venv/bin/)?pip install (?:-q )?-e '?\.(?:\[(?P<extras>[a-z_,]+)\])?'?")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    code: str
    marked: bool

    def __str__(self) -> str:
        page = self.page.relative_to(REPO) if self.page.is_relative_to(REPO) else self.page.name
        return f"{page}:{self.line} ({self.lang})"


def code_blocks(page: Path) -> list[Block]:
    """The fenced and indented code blocks of ``page``, each with its language and whether the marker
    paragraph comes right before it."""
    tokens = MarkdownIt("commonmark").parse(page.read_text())
    found = []
    for i, token in enumerate(tokens):
        if token.type not in ("fence", "code_block"):
            continue
        marked = i >= 3 and tokens[i - 1].type == "paragraph_close" and \
            bool(MARKER.fullmatch(tokens[i - 2].content.strip()))
        lang = token.info.split()[0] if token.info.strip() else _indented_language(token.content)
        found.append(Block(page, token.map[0] + 1, lang, token.content, marked))
    return found


def _indented_language(code: str) -> str:
    first = code.lstrip().splitlines()[0] if code.strip() else ""
    if re.match(r"(import |from \S+ import )", first):
        return "python"
    if first.startswith("#!") or first.split(" ", 1)[0].startswith(SHELL_WORDS):
        return "bash"
    return "text"


def shell_commands(code: str) -> list[list[str]]:
    """Each command of a shell block as words: lines joined at ``\\``, comments dropped, split at ``&&``, ``||``,
    ``;``, ``|`` and ``&``. ValueError for text that is not shell (an unclosed quote)."""
    commands: list[list[str]] = [[]]
    for line in code.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        for word in lexer:
            if word in SEPARATORS:
                commands.append([])
            else:
                commands[-1].append(word)
        commands.append([])
    return [c for c in commands if c]


def ci_commands() -> tuple[set[str], set[str]]:
    """The commands .ci/run runs (words joined by one space) and the extras it installs."""
    text = (REPO / ".ci" / "run").read_text()
    commands = {" ".join(c) for c in shell_commands(text)}
    extras = {e for m in _INSTALL.finditer(text) for e in (m["extras"] or "").split(",") if e}
    return commands, extras


def ganzoo_args(words: list[str]) -> list[str] | None:
    """The arguments of the ganzoo command in ``words`` (``ganzoo ...``, ``.venv/bin/ganzoo ...``, ``... -m ganzoo
    ...``), or None when it runs no ganzoo command."""
    if words[0].rsplit("/", 1)[-1] == "ganzoo":
        return words[1:]
    for i in range(len(words) - 1):
        if words[i] == "-m" and words[i + 1] == "ganzoo":
            return words[i + 2:]
    return None


def check_ganzoo(args: list[str]) -> tuple[bool, str | None]:
    """(whether CI exercises the command this way, the problem found): ``--help``, ``--version`` and ``list`` are
    run; any other command is parsed by its click command, and ``run`` / ``bench`` load their recipe."""
    if {"--help", "-h", "--version"} & set(args) or args[:1] == ["list"]:
        result = CliRunner().invoke(cli, args)
        return True, None if result.exit_code == 0 else f"`ganzoo {' '.join(args)}` exited {result.exit_code}: " \
                                                        f"{result.output.strip()[-300:]}"
    rest = [a for a in args if a != "--debug"]
    if not rest or rest[0] not in cli.commands:
        return False, f"`ganzoo {' '.join(args)}`: no such command (commands: {', '.join(sorted(cli.commands))})"
    command = cli.commands[rest[0]]
    try:
        params = command.make_context(rest[0], rest[1:]).params
    except Exception as exc:  # click's usage errors
        return False, f"`ganzoo {' '.join(args)}` does not parse: {exc}"
    if rest[0] not in ("run", "bench"):
        return False, None
    recipe_path = REPO / params["recipe"]
    if not recipe_path.is_file():
        return False, None  # a run folder: needs a trained run
    try:
        recipe = load_recipe(recipe_path, list(params["overrides"]))
    except GanzooError as exc:
        return False, f"`ganzoo {' '.join(args)}`: its recipe does not load: {exc}"
    dataset = recipe.data.dataset.name if hasattr(recipe.data.dataset, "name") else str(recipe.data.dataset)
    return rest[0] == "bench" or dataset.startswith("synthetic"), None


def check_shell(block: Block) -> list[str]:
    problems = []
    ci, ci_extras = ci_commands()
    try:
        commands = shell_commands(block.code)
    except ValueError as exc:
        return [f"{block}: not a shell block ({exc}); fence it as `text` if it is not code ({RULES})"]
    for words in commands:
        line = " ".join(words)
        args = ganzoo_args(words)
        exercised, problem = check_ganzoo(args) if args is not None else (False, None)
        if problem:
            problems.append(f"{block}: {problem}")
        install = _INSTALL.fullmatch(line)
        if install is not None:
            exercised = set((install["extras"] or "").split(",")) - {""} <= ci_extras
        exercised = exercised and (args is None or words[0].rsplit("/", 1)[-1] in ("ganzoo", "python", "python3"))
        if not (exercised or line in ci or block.marked):
            problems.append(f"{block}: `{line}` is neither run by the tests nor by .ci/run; add the marker "
                            f"paragraph *Not run in CI: needs ....* before the block ({RULES})")
    return problems


def check_yaml(block: Block, tmp_path: Path) -> list[str]:
    try:
        data = yaml.safe_load(block.code)
    except yaml.YAMLError as exc:
        return [f"{block}: not valid YAML: {exc}"]
    if not (isinstance(data, dict) and data and set(data) <= RECIPE_SECTIONS) or block.marked:
        return []
    data["base"] = str(REPO / "recipes" / data.get("base", "quickstart.yaml"))
    path = tmp_path / f"block_{block.line}.yaml"
    path.write_text(yaml.safe_dump(data))
    try:
        load_recipe(path)
    except GanzooError as exc:
        return [f"{block}: the recipe does not validate: {exc}"]
    return []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_code_block_is_exercised_or_marked(page, tmp_path):
    problems = []
    python = []
    for block in code_blocks(page):
        if block.lang not in LANGUAGES:
            problems.append(f"{block}: unknown block language {block.lang!r}; use one of {sorted(LANGUAGES)} ({RULES})")
        elif block.lang == "bash":
            problems += check_shell(block)
        elif block.lang == "yaml":
            problems += check_yaml(block, tmp_path)
        elif block.lang == "toml":
            try:
                tomllib.loads(block.code)
            except tomllib.TOMLDecodeError as exc:
                problems.append(f"{block}: not valid TOML: {exc}")
        elif block.lang == "python" and not block.marked:
            python.append(block)
    if python:
        script = "\n".join(f"# {block}\n{block.code}" for block in python)
        done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            problems.append(f"{page.name}: its python blocks ({', '.join(str(b.line) for b in python)}) fail:\n"
                            f"{done.stderr[-2000:]}")
    assert not problems, "\n".join(problems)


def test_the_checker_finds_unmarked_commands_and_honours_the_marker(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("Text.\n\n```bash\naccelerate launch -m ganzoo run recipes/quickstart.yaml\nganzoo list\n```\n\n"
                    "*Not run in CI: needs a GPU.*\n\n    accelerate launch -m ganzoo run recipes/quickstart.yaml\n\n"
                    "```bash\nganzoo run recipes/quickstart.yaml train.no_such_key=1\n```\n\n"
                    "    ganzoo translate RUN --nope\n\n```yaml\ntrain: {batch_size: 0}\n```\n\n```rst\nx\n```\n")
    blocks = code_blocks(page)
    assert [(b.lang, b.marked) for b in blocks] == [("bash", False), ("bash", True), ("bash", False), ("bash", False),
                                                    ("yaml", False), ("rst", False)]
    assert check_shell(blocks[1]) == []
    [unmarked] = check_shell(blocks[0])
    assert "`accelerate launch -m ganzoo run recipes/quickstart.yaml` is neither run" in unmarked
    assert "train.no_such_key" in check_shell(blocks[2])[0]
    assert "does not parse" in check_shell(blocks[3])[0]
    assert "train.batch_size" in check_yaml(blocks[4], tmp_path)[0]
