"""``python -m ganzoo`` (also what ``accelerate launch -m ganzoo`` runs)."""

from .cli import main

main()
