import sys

from metastyle.app.cli import main

sys.exit(main())
