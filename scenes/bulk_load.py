"""Bulk-load mode: a full sync into an empty library loads its tables without their
secondary indexes and builds them once at the end.

Maintaining a dozen indexes row by row (a trigram GIN index among them) cost most of a
first sync on PostgreSQL, and PostgreSQL's deferred foreign keys queued one check per row,
run at each commit. Building an index over the full table costs a fraction of that, and
checking a foreign key over it is one join.

What is dropped: the synced tables' indexes that back no constraint (primary keys and the
unique pairs that ``ON CONFLICT`` needs stay) and, on PostgreSQL, their foreign keys
(SQLite cannot drop a constraint without rebuilding its table). Each is recorded in
``DroppedIndex`` with the SQL that makes it again, read from the database's own catalog
(so indexes made by raw SQL in migrations come back exactly), in the transaction that
drops it.

Crash-safe: whatever is recorded is made again by ``restore_indexes``, which runs when a
load ends however it ends, at the start of every sync (a worker that died mid-load), when
a worker starts, and before ``migrate`` applies anything (so migrations find the schema
their history describes).
"""

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import Model

from scenes.entities import SCENE_LISTS
from scenes.models import DroppedIndex, Scene, SceneFile

logger = logging.getLogger("stashhog.sync")
LOADED: list[type[Model]] = [Scene, SceneFile, *(kind.link for kind in SCENE_LISTS)]
# PostgreSQL builds the rebuilt indexes (the trigram one above all) in memory up to this.
BUILD_MEMORY = "256MB"
BUILDERS = 2  # PostgreSQL connections building indexes at once (one per core here)

_POSTGRESQL_INDEXES = """
    SELECT i.relname, pg_get_indexdef(i.oid), format('DROP INDEX %%I', i.relname)
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    WHERE t.relname = ANY(%s) AND t.relnamespace = current_schema()::text::regnamespace
      AND NOT x.indisunique
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
    ORDER BY t.relname, i.relname
"""
_POSTGRESQL_FOREIGN_KEYS = """
    SELECT c.conname,
           format('ALTER TABLE %%I ADD CONSTRAINT %%I %%s',
                  t.relname, c.conname, pg_get_constraintdef(c.oid)),
           format('ALTER TABLE %%I DROP CONSTRAINT %%I', t.relname, c.conname)
    FROM pg_constraint c
    JOIN pg_class t ON t.oid = c.conrelid
    WHERE c.contype = 'f' AND t.relname = ANY(%s)
      AND t.relnamespace = current_schema()::text::regnamespace
    ORDER BY t.relname, c.conname
"""
# Unique indexes (``CREATE UNIQUE INDEX``) stay; automatic ones (a primary key, UNIQUE in
# the table definition) have no SQL and cannot be dropped anyway.
_SQLITE_INDEXES = """
    SELECT name, sql, 'DROP INDEX "' || name || '"'
    FROM sqlite_master
    WHERE type = 'index' AND tbl_name IN ({tables}) AND sql IS NOT NULL
      AND sql NOT LIKE 'CREATE UNIQUE %%'
    ORDER BY tbl_name, name
"""


def _droppable(using: str) -> list[tuple[str, str, str]]:
    """(name, SQL that makes it, SQL that drops it) for every index and foreign key a load
    goes without: indexes first, so that they are made again first."""
    connection = connections[using]
    tables = [model._meta.db_table for model in LOADED]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_POSTGRESQL_INDEXES, [tables])
            found = cursor.fetchall()
            cursor.execute(_POSTGRESQL_FOREIGN_KEYS, [tables])
            return [*found, *cursor.fetchall()]
        if connection.vendor == "sqlite":
            cursor.execute(_SQLITE_INDEXES.format(tables=", ".join(["%s"] * len(tables))), tables)
            return list(cursor.fetchall())
    return []


def drop_indexes(using: str = DEFAULT_DB_ALIAS) -> int:
    """Drop the loaded tables' secondary indexes (and foreign keys), recording each first;
    returns how many were dropped."""
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        droppable = _droppable(using)
        DroppedIndex.objects.using(using).bulk_create(
            DroppedIndex(name=name, sql=make) for name, make, _ in droppable)
        for _, _, drop in droppable:
            cursor.execute(drop)
    return len(droppable)


def restore_indexes(using: str = DEFAULT_DB_ALIAS) -> int:
    """Make again every index and foreign key a load dropped; returns how many."""
    connection = connections[using]
    # Indexes are built in connections of their own unless a transaction encloses this one:
    # it may hold locks on the tables that they would wait for.
    in_parallel = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic(using=using), connection.cursor() as cursor:
        # Locked: two restorers (a worker starting while a sync begins) make each one once.
        dropped = list(DroppedIndex.objects.using(using).select_for_update().order_by("id"))
        if not dropped:
            return 0
        remaining = dropped
        if in_parallel:
            _build_indexes_in_parallel([index.sql for index in dropped if _is_index(index)],
                                       using)
            remaining = [index for index in dropped if not _is_index(index)]
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL maintenance_work_mem = %s", [BUILD_MEMORY])
        for index in remaining:
            try:
                with transaction.atomic(using=using):
                    cursor.execute(index.sql)
            except IntegrityError:
                # Rows a foreign key does not find (another process wrote them during the
                # load): the key comes back enforced for new rows, and the indexes with it.
                logger.warning("%s does not hold for every row: restored as NOT VALID",
                               index.name)
                cursor.execute(f"{index.sql} NOT VALID")
        DroppedIndex.objects.using(using).filter(id__in=[index.id for index in dropped]).delete()
    logger.info("rebuilt %d indexes and foreign keys: %s", len(dropped),
                ", ".join(index.name for index in dropped))
    return len(dropped)


def _is_index(dropped: DroppedIndex) -> bool:
    return dropped.sql.startswith("CREATE INDEX ")


def _build_indexes_in_parallel(definitions: list[str], using: str) -> None:
    """Run the ``CREATE INDEX`` statements from ``BUILDERS`` connections at once.

    Python is idle meanwhile, and each build keeps one core busy: the trigram GIN index
    alone takes as long as all the B-trees together, so GIN builds start first and the
    other connection builds the rest meanwhile. Each index commits on its own, before its
    ``DroppedIndex`` row goes; if the restorer dies in between, ``IF NOT EXISTS`` makes
    the next one skip what was built.
    """
    in_order = sorted(definitions, key=lambda sql: " USING gin " not in sql)

    def build(sql: str) -> None:
        connection = connections[using]  # this thread's own
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET maintenance_work_mem = %s", [BUILD_MEMORY])
                cursor.execute(sql.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
        finally:
            connection.close()

    with ThreadPoolExecutor(BUILDERS, thread_name_prefix="index-build") as builders:
        list(builders.map(build, in_order))


def restore_indexes_if_migrated(using: str = DEFAULT_DB_ALIAS) -> int:
    """``restore_indexes`` where the ``DroppedIndex`` table may not exist yet (a database
    being migrated for the first time)."""
    connection = connections[using]
    if DroppedIndex._meta.db_table not in connection.introspection.table_names():
        return 0
    return restore_indexes(using)


@contextmanager
def bulk_load(enabled: bool = True) -> Iterator[bool]:
    """Load without secondary indexes if ``enabled`` and the library is empty (yields
    whether it does), and make them again on the way out, whatever happened inside."""
    empty = enabled and not Scene.objects.exists()
    if empty:
        logger.info("empty library: loading without %d indexes and foreign keys",
                    drop_indexes())
    try:
        yield empty
    finally:
        if empty:
            restore_indexes()
