import sys

from muscall.cli.main import main

sys.exit(main())
