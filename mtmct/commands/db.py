"""`mtmct db upgrade|current [--db URL]`: bring a database to the schema this mtmct needs, or show where it is."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="create or upgrade the results database",
                       description="URL: postgresql+psycopg://user[:password]@host[:port]/db or sqlite:///path.db; "
                                   "default $MTMCT_DB, else sqlite:///OUT/mtmct.db.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (("upgrade", "create the tables or migrate them to the newest schema"),
                       ("current", "print the schema revision of the database and the one this mtmct needs")):
        action = actions.add_parser(name, help=text)
        action.add_argument("--db", help="database URL (default $MTMCT_DB, else sqlite:///OUT/mtmct.db)")
        action.add_argument("--out", default="out/run", help="output folder of the embedded default (out/run)")
        action.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from storage.engine import resolve_url, safe_url
    from storage.migrate import current, head_revision, upgrade

    url = resolve_url(args.db, args.out)
    if args.action == "upgrade":
        before, after = upgrade(url)
        change = f"already at {after}" if before == after else f"upgraded {before or 'empty'} -> {after}"
        print(f"{safe_url(url)}: {change}")
        return 0
    rev, head = current(url), head_revision()
    print(f"{safe_url(url)}: revision {rev or 'none (empty)'}, this mtmct needs {head}"
          + ("" if rev == head else " (run `mtmct db upgrade`)"))
    return 0 if rev == head else 1
