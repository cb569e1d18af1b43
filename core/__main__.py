"""`python -m fixative` is the `fixative` command."""

import sys

from .cli import main

sys.exit(main())
