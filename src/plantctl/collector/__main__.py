import sys

from plantctl.collector.cli import main

sys.exit(main())
