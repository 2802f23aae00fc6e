"""Persistence of runs, boxes, tracklets and identities (PostgreSQL or SQLite).

    db = open_database(resolve_url(args.db, out_dir))   # sqlite:///<out>/mtmct.db unless --db / $MTMCT_DB
    repo = Repository(db)
    repo.start_run(run_id, config_text, config.name, config.cameras)
    repo.write_camera(run_id, camera_id, None, tracklets)   # after each camera: one transaction
    repo.write_identities(run_id, identities)               # after fusion
    repo.finish_run(run_id, "finished")
"""

from storage.bulk import BOX_DTYPE
from storage.engine import Database, default_url, resolve_url
from storage.migrate import open_database, upgrade
from storage.repository import IdentityInfo, Repository, RunInfo, StoredEmbeddings, boxes_from_tracklets

__all__ = ["BOX_DTYPE", "Database", "IdentityInfo", "Repository", "RunInfo", "StoredEmbeddings", "boxes_from_tracklets", "default_url",
           "open_database", "resolve_url", "upgrade"]
