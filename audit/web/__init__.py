"""The review page (`callaudit serve`): listen, read, decide and appeal in the browser.

`media` finds a known call's audio in a form the browser plays, `pages` reads what each page
shows from the store, `app` is the Flask app (access, CSRF, routes) and its server.

May import: the reports (scorecard, review queue), the workspace and everything below.
Never the runner or the CLI.
"""

from audit.web.app import create_app, serve

__all__ = ["create_app", "serve"]
