import sys

from plantctl.cli import main

sys.exit(main())
