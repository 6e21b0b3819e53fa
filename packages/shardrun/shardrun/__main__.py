"""`python -m shardrun ...`: see `shardrun.cli`."""

import sys

from shardrun.cli import main

if __name__ == "__main__":  # LocalCluster's worker processes re-import the main module
    sys.exit(main())
