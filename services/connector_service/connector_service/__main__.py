"""`python -m connector_service ...`; see connector_service.app.cli."""

import sys

from connector_service.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
