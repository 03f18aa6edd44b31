"""``python -m healthcrawl``: the same as the ``healthcrawl`` command."""

import sys

from healthcrawl.entrypoint import main

sys.exit(main())
