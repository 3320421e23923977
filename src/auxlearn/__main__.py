"""``python -m auxlearn``, which ``accelerate launch -m auxlearn`` runs in each process."""

import sys

from auxlearn.cli import main

sys.exit(main())
