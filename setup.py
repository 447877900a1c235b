"""Package discovery, which pyproject.toml cannot express for our layout: ``plugins/`` ships as
``ganzoo.plugins`` (no top-level ``plugins`` package lands in site-packages), and every package under
``ganzoo/`` and ``plugins/`` is found, so adding a plugin family is adding a folder. Everything else is in
pyproject.toml."""

from setuptools import find_packages, setup

setup(
    package_dir={"ganzoo": "ganzoo", "ganzoo.plugins": "plugins"},
    packages=[*find_packages(include=["ganzoo", "ganzoo.*"]), "ganzoo.plugins",
              *(f"ganzoo.plugins.{name}" for name in find_packages("plugins"))],
)
