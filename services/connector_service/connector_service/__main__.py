"""`python -m connector_service ...`; see connector_service.cli."""

import sys

from connector_service.cli import main

if __name__ == "__main__":
    sys.exit(main())
