"""``python -m autotrace`` is the ``autotrace`` command."""

from autotrace.runners.cli import main

main()
