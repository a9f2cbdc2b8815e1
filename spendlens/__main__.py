import sys

from spendlens.cli import main

sys.exit(main())
