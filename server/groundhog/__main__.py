"""``python -m groundhog``: the same as the ``groundhog`` command."""

import sys

from groundhog.cli import main

sys.exit(main())
