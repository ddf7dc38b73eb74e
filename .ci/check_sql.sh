#!/usr/bin/env bash
# Fails when SQL appears in a Python string outside persistence/: clew's SQL lives there, one module per table
# (docs/architecture.md, issue 19). A grep for statement shapes (upper-case keywords, as all of clew's SQL is
# written), not a parser. Exempt, and only these:
# - the data-question mode's modules that build, validate or run the *user's* SQL on the user's database
#   (data, not clew's storage): nodes/data/{connect,denylist,execution,schema,sql_safety}.py;
# - tests/ and benchmarks/, which inspect and set up the database directly.
# NOTIFY channel names and advisory-lock ids belong to persistence/channels.py: a quoted channel name elsewhere
# fails too.
set -euo pipefail
cd "$(dirname "$0")/.."
EXEMPT='^(persistence/|tests/|benchmarks/|nodes/data/(connect|denylist|execution|schema|sql_safety)\.py$)'
SHAPES=(
  '\bSELECT\b.*\bFROM\b'                 # a query on one line
  '^\s*(SELECT|WITH|FROM|WHERE|RETURNING|ON CONFLICT)\b'  # a line of a multi-line statement
  '["'"'"'](\s*)(SELECT|WITH|LISTEN|NOTIFY|TRUNCATE|VACUUM|SHOW|PRAGMA)\b'  # a string that starts a statement
  '\bSELECT\s+(1|count|coalesce|exists|max|min|pg_\w+)\b'
  '\bINSERT\s+INTO\b'
  '\bUPDATE\s+\w+\s+SET\b'
  '\bDELETE\s+FROM\b'
  '\b(CREATE|ALTER|DROP)\s+(TABLE|INDEX|UNIQUE|EXTENSION|SCHEMA|TYPE)\b'
  '\bpg_(notify|try_advisory\w*|advisory\w*|locks|stat_activity)\b'
  '(notify|listen|on|emit)\(.*["'"'"']clew_(events|runs|cancel|config)["'"'"']'  # a NOTIFY channel's name
)
pattern=$(IFS='|'; echo "${SHAPES[*]}")
files=$(git ls-files '*.py' | grep -Ev "$EXEMPT" || true)
# shellcheck disable=SC2086
hits=$(grep -nE "$pattern" $files || true)
if [ -n "$hits" ]; then
  echo "SQL outside persistence/ (move it into a persistence/ module, as named constants with thin functions):" >&2
  echo "$hits" >&2
  exit 1
fi
echo "check_sql: no SQL outside persistence/"
