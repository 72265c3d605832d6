"""python -m plantctl.lab.plc: serve one machine's signals as a PLC."""

import sys

from plantctl.lab.plc.simulator import main

sys.exit(main())
