"""The web dashboard of global trajectories (`mtmct serve`): a JSON API plus server-rendered pages.

``create_app(db_url)`` builds the FastAPI application; pages are Jinja2 templates with a little vanilla
JavaScript (no front-end build step). Routes live in one module per concept: runs, timeline, graph, flows,
identities, search, videos, the ground map and the live view.
"""

from mtmct.dashboard.app import create_app

__all__ = ["create_app"]
