"""Functions a data question may never call, whatever the dialect: the deny-list of the SQL validator.

A SELECT can still do harm through functions: sleep to hold a connection, read server files, open
connections to other servers, change session settings, signal other backends, write sequences or large
objects. The validator (:mod:`nodes.data.sql_safety`) refuses a statement calling any name below (compared
case-insensitively, with or without a schema qualifier) or starting with one of :data:`DENIED_PREFIXES`.
Every entry says why. The read-only transaction stops the ones that write; the ones that only wait, read
files or signal are stopped here alone (and by the statement timeout, for sleeps).
"""

from __future__ import annotations

DENIED_FUNCTIONS: dict[str, str] = {
    # --- time: hold a connection or a worker slot ------------------------------------------------------
    "sleep": "MySQL/MariaDB: waits (denial of service, timing side channel)",
    "benchmark": "MySQL/MariaDB: burns CPU on purpose",
    "pg_sleep": "PostgreSQL: waits",
    "pg_sleep_for": "PostgreSQL: waits",
    "pg_sleep_until": "PostgreSQL: waits",
    "master_pos_wait": "MySQL: waits for replication",
    "source_pos_wait": "MySQL: waits for replication",
    "master_gtid_wait": "MariaDB: waits for replication",
    "wait_for_executed_gtid_set": "MySQL: waits for replication",
    # --- files on the database server --------------------------------------------------------------------
    "load_file": "MySQL/MariaDB: reads any file the server may read",
    "pg_read_file": "PostgreSQL: reads server files",
    "pg_read_binary_file": "PostgreSQL: reads server files",
    "pg_stat_file": "PostgreSQL: inspects server files",
    "pg_ls_dir": "PostgreSQL: lists server directories",
    "readfile": "SQLite (fileio extension / shell): reads files",
    "writefile": "SQLite (fileio extension / shell): writes files",
    "edit": "SQLite shell: starts an editor process",
    # --- large objects (server-side file import/export and writes) ---------------------------------------
    "lo_import": "PostgreSQL: imports a server file as a large object (a write)",
    "lo_export": "PostgreSQL: writes a large object to a server file",
    "lo_create": "PostgreSQL: creates a large object (a write)",
    "lo_from_bytea": "PostgreSQL: creates a large object (a write)",
    "lo_put": "PostgreSQL: writes into a large object",
    "lo_unlink": "PostgreSQL: deletes a large object",
    "lo_get": "PostgreSQL: reads large objects outside the allowed tables",
    "lo_open": "PostgreSQL: opens a large object descriptor",
    "loread": "PostgreSQL: reads a large object descriptor",
    "lowrite": "PostgreSQL: writes a large object descriptor",
    # --- other servers, extensions, native code ----------------------------------------------------------
    "dblink": "PostgreSQL dblink: runs SQL on another connection, outside the read-only transaction",
    "dblink_exec": "PostgreSQL dblink: runs a command on another connection",
    "dblink_connect": "PostgreSQL dblink: opens a connection",
    "dblink_connect_u": "PostgreSQL dblink: opens a connection without password checks",
    "dblink_send_query": "PostgreSQL dblink: runs SQL asynchronously on another connection",
    "dblink_open": "PostgreSQL dblink: opens a remote cursor",
    "load_extension": "SQLite: loads native code into the server process",
    "fts3_tokenizer": "SQLite: registers a tokenizer by raw pointer (a known memory-corruption vector)",
    "sys_exec": "MySQL lib_mysqludf_sys: runs a shell command",
    "sys_eval": "MySQL lib_mysqludf_sys: runs a shell command",
    "xp_cmdshell": "SQL Server: runs a shell command (never legitimate in a data question)",
    # --- SQL strings executed inside a function: they would escape the table allow-list ------------------
    "query_to_xml": "PostgreSQL: executes a query given as a string",
    "query_to_xmlschema": "PostgreSQL: executes a query given as a string",
    "query_to_xml_and_xmlschema": "PostgreSQL: executes a query given as a string",
    "cursor_to_xml": "PostgreSQL: reads a cursor opened elsewhere",
    "table_to_xml": "PostgreSQL: reads a table named by a string (escapes the allow-list)",
    "table_to_xml_and_xmlschema": "PostgreSQL: reads a table named by a string (escapes the allow-list)",
    "schema_to_xml": "PostgreSQL: dumps a whole schema",
    "database_to_xml": "PostgreSQL: dumps the whole database",
    # --- session and server state -----------------------------------------------------------------------
    "set_config": "PostgreSQL: changes settings (e.g. default_transaction_read_only, statement_timeout)",
    "pg_terminate_backend": "PostgreSQL: kills other sessions",
    "pg_cancel_backend": "PostgreSQL: cancels other sessions' queries",
    "pg_reload_conf": "PostgreSQL: reloads the server configuration",
    "pg_rotate_logfile": "PostgreSQL: rotates server logs",
    "pg_promote": "PostgreSQL: promotes a standby",
    "pg_switch_wal": "PostgreSQL: forces a WAL switch",
    "pg_create_restore_point": "PostgreSQL: writes a WAL record",
    "pg_backup_start": "PostgreSQL: starts a backup",
    "pg_backup_stop": "PostgreSQL: stops a backup",
    "pg_start_backup": "PostgreSQL (before 15): starts a backup",
    "pg_stop_backup": "PostgreSQL (before 15): stops a backup",
    "pg_notify": "PostgreSQL: sends NOTIFY to other sessions",
    "pg_logical_emit_message": "PostgreSQL: writes a WAL message",
    "pg_create_logical_replication_slot": "PostgreSQL: creates a replication slot",
    "pg_create_physical_replication_slot": "PostgreSQL: creates a replication slot",
    "pg_drop_replication_slot": "PostgreSQL: drops a replication slot",
    "pg_stat_reset": "PostgreSQL: resets statistics",
    "pg_stat_statements_reset": "PostgreSQL: resets statement statistics",
    "pg_import_system_collations": "PostgreSQL: writes the catalog",
    "txid_current": "PostgreSQL: assigns a transaction id (a write)",
    "pg_current_xact_id": "PostgreSQL: assigns a transaction id (a write)",
    # --- sequences (writes that survive a rollback) -----------------------------------------------------
    "nextval": "PostgreSQL: advances a sequence; not undone by ROLLBACK",
    "setval": "PostgreSQL: sets a sequence; not undone by ROLLBACK",
    # --- locks -------------------------------------------------------------------------------------------
    "pg_advisory_lock": "PostgreSQL: takes a session lock others wait on",
    "pg_advisory_lock_shared": "PostgreSQL: takes a session lock",
    "pg_advisory_xact_lock": "PostgreSQL: takes a lock others wait on",
    "pg_advisory_xact_lock_shared": "PostgreSQL: takes a lock",
    "pg_try_advisory_lock": "PostgreSQL: takes a session lock",
    "pg_try_advisory_lock_shared": "PostgreSQL: takes a session lock",
    "pg_try_advisory_xact_lock": "PostgreSQL: takes a lock",
    "pg_try_advisory_xact_lock_shared": "PostgreSQL: takes a lock",
    "pg_advisory_unlock_all": "PostgreSQL: releases locks",
    "get_lock": "MySQL/MariaDB: takes a named lock others wait on",
    "release_lock": "MySQL/MariaDB: releases a named lock",
    "release_all_locks": "MySQL/MariaDB: releases named locks",
    # --- memory exhaustion ---------------------------------------------------------------------------------
    "randomblob": "SQLite: allocates as many bytes as asked (memory exhaustion)",
    "zeroblob": "SQLite: allocates as many bytes as asked (memory exhaustion)",
    "repeat": "builds strings of any size (memory exhaustion); a data question does not need it",
    "lpad": "pads to any size (memory exhaustion); refused with its siblings",
    "rpad": "pads to any size (memory exhaustion); refused with its siblings",
}

DENIED_PREFIXES: dict[str, str] = {
    "pg_ls_": "PostgreSQL: lists server directories (logdir, waldir, tmpdir, archive_statusdir)",
    "pg_read_": "PostgreSQL: reads server files",
    "lo_": "PostgreSQL: large objects",
    "dblink": "PostgreSQL dblink: other connections",
    "pragma_": "SQLite: table-valued PRAGMA functions (read and, for some, change connection state)",
    "pg_advisory": "PostgreSQL: advisory locks",
    "pg_try_advisory": "PostgreSQL: advisory locks",
    "pg_replication_": "PostgreSQL: replication state",
}


def denied(name: str) -> str | None:
    """Why calling function ``name`` is refused, or None when it is allowed (case-insensitive)."""
    key = name.strip().strip('"`[]').lower().rsplit(".", 1)[-1]
    if key in DENIED_FUNCTIONS:
        return DENIED_FUNCTIONS[key]
    for prefix, reason in DENIED_PREFIXES.items():
        if key.startswith(prefix):
            return reason
    return None
