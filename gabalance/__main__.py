import sys

from gabalance.cli import main

sys.exit(main())
