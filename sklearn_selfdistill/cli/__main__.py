"""``python -m sklearn_selfdistill.cli``: the ``sklearn-selfdistill`` command."""

import sys

from . import main

sys.exit(main())
