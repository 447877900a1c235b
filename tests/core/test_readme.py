"""The README's two commands are the ones users and CI run."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def bash_blocks(text: str) -> list[str]:
    parts = text.split("```bash\n")[1:]
    return [p.split("```")[0].strip() for p in parts]


def test_ci_runs_the_readme_test_command():
    blocks = bash_blocks((REPO / "README.md").read_text())
    test_command = next(b for b in blocks if "pytest" in b)
    assert test_command in (REPO / ".ci" / "run").read_text()


def test_readme_quickstart_runs_the_shipped_recipe():
    blocks = bash_blocks((REPO / "README.md").read_text())
    quickstart = blocks[0]
    assert "ganzoo run recipes/quickstart.yaml" in quickstart
    assert (REPO / "recipes" / "quickstart.yaml").is_file()


def test_readme_stylegan_commands_use_shipped_recipes_and_commands():
    from ganzoo.cli import cli

    block = next(b for b in bash_blocks((REPO / "README.md").read_text()) if "stylegan" in b)
    assert (REPO / "recipes" / "stylegan_quickstart.yaml").is_file() and "ganzoo sample" in block
    assert {line.split()[1] for line in block.splitlines()} <= set(cli.commands)
