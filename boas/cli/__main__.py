"""``python -m boas.cli``: the same command as ``boas`` (``boas serve`` starts its worker this way)."""

from boas.cli import main

main()
