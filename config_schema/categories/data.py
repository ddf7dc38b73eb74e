"""Settings of data questions (the ``data_query`` mode): approval, repairs, row cap, timeouts, table choice."""

from __future__ import annotations

from config_schema.definitions import Setting

# Safe defaults: this machine only (loopback addresses and the usual unix socket directories), and SQLite
# files under the clew user's home, /srv, /mnt, /media and /tmp. An administrator adds a database server's
# name, address or network (CIDR), or "*" for any host.
DEFAULT_ALLOWED_HOSTS: list[str] = [
    "localhost", "127.0.0.0/8", "::1", "/run/postgresql", "/var/run/postgresql", "/run/mysqld",
    "/var/run/mysqld", "/tmp",
]
DEFAULT_SQLITE_DIRECTORIES: list[str] = ["~", "/srv", "/mnt", "/media", "/tmp"]

SETTINGS: list[Setting] = [
    Setting(
        key="data.approval",
        category="data",
        type="enum",
        default="always",
        options=("always", "never", "on_risk"),
        scope="session",
        description=(
            "When a human approves (and may edit) the SQL before it runs: always; never; or on_risk (joins "
            "without a condition, unfiltered reads of large tables, many tables)."
        ),
    ),
    Setting(
        key="data.max_repairs",
        category="data",
        type="integer",
        default=2,
        minimum=0,
        maximum=5,
        scope="session",
        description="How many times the model may rewrite SQL the database rejected, given the error message.",
    ),
    Setting(
        key="data.max_rows",
        category="data",
        type="integer",
        default=500,
        minimum=1,
        maximum=10_000,
        scope="session",
        description="Rows a query returns at most (a LIMIT is forced); the result says when it was truncated.",
    ),
    Setting(
        key="data.statement_timeout_seconds",
        category="data",
        type="number",
        default=30.0,
        minimum=0.1,
        maximum=600.0,
        scope="user",
        description="How long one query may run on the database before the database stops it.",
    ),
    Setting(
        key="data.max_tables",
        category="data",
        type="integer",
        default=8,
        minimum=1,
        maximum=50,
        scope="session",
        description="How many of the most relevant tables are described to the model (plus the tables they reference).",
    ),
    Setting(
        key="data.large_table_rows",
        category="data",
        type="integer",
        default=100_000,
        minimum=1,
        maximum=10_000_000_000,
        scope="user",
        description="Row estimate from which an unfiltered read of a table counts as a risk (data.approval = on_risk).",
    ),
    Setting(
        key="data.history_turns",
        category="data",
        type="integer",
        default=5,
        minimum=0,
        maximum=50,
        scope="session",
        description="How many earlier questions of the conversation (with their SQL) the model sees for a follow-up.",
    ),
    Setting(
        key="data.allowed_hosts",
        category="data",
        type="list",
        default=DEFAULT_ALLOWED_HOSTS,
        scope="system",
        description=(
            "Hosts data connections may reach: host names, IP addresses, networks (CIDR, e.g. 10.0.0.0/8), "
            "unix socket directories (absolute paths), or \"*\" for any. Default: this machine only. clew's own "
            "database and data directory are refused whatever this says."
        ),
    ),
    Setting(
        key="data.sqlite_directories",
        category="data",
        type="list",
        default=DEFAULT_SQLITE_DIRECTORIES,
        scope="system",
        description=(
            "Directories SQLite files of data connections may lie in (\"~\" is clew's user's home; \"*\" any). "
            "clew's own data directory is refused whatever this says."
        ),
    ),
]
