"""``python -m app_packages.fiqa_app -i IN -o OUT`` from the repository root, or ``python FOLDER -i IN -o OUT``
(how a MAP starts it): run the app and exit 0 (every item assessed), 3 (partial) or 1 (none)."""

import sys

if __package__:
    from .app import main
else:  # run as a folder: app.py sits beside this file on sys.path
    from app import main

sys.exit(main())
