"""The data file's schema: coverage.py's schema 7, plus tally's own tables it ignores."""

from __future__ import annotations

__all__ = ["COUNTS_ASKED", "COVERAGE_SCHEMA_VERSION", "DDL", "TALLY_SCHEMA_VERSION"]

# coverage.py's schema version (coverage/sqldata.py SCHEMA_VERSION). coverage.py refuses
# any other number, so this is what makes `coverage report` read our files.
COVERAGE_SCHEMA_VERSION = 7

# tally's own tables, versioned separately in meta 'tally_schema'.
# History:
#   1: tally 0.1: tally_counts (per-line execution counts, packed per file and context).
TALLY_SCHEMA_VERSION = 1
# The meta key that says a run was asked for counts (the count engine counts anyway): the
# terminal table shows its Hits column only then.
COUNTS_ASKED = "tally_counts_asked"

DDL = """
CREATE TABLE coverage_schema (
    version integer                 -- one row: the coverage.py schema version, 7
);
CREATE TABLE meta (
    key text,                       -- has_arcs, version, when, sys_argv, tally_* (see below)
    value text,
    unique (key)
);
CREATE TABLE file (
    id integer primary key,
    path text,                      -- canonical absolute path (or relative: relative_files)
    unique (path)
);
CREATE TABLE context (
    id integer primary key,
    context text,                   -- '' is the default context
    unique (context)
);
CREATE TABLE line_bits (
    file_id integer,                -- file.id
    context_id integer,             -- context.id
    numbits blob,                   -- executed lines, coverage.py's numbits encoding
    foreign key (file_id) references file (id),
    foreign key (context_id) references context (id),
    unique (file_id, context_id)
);
CREATE TABLE arc (
    file_id integer,
    context_id integer,
    fromno integer,                 -- line jumped from (negative: code object entry)
    tono integer,                   -- line jumped to (negative: code object exit)
    foreign key (file_id) references file (id),
    foreign key (context_id) references context (id),
    unique (file_id, context_id, fromno, tono)
);
CREATE TABLE tracer (
    file_id integer primary key,
    tracer text,                    -- '' for Python source, as coverage.py writes
    foreign key (file_id) references file (id)
);
CREATE TABLE tally_arc_counts (
    file_id integer,                -- file.id
    context_id integer,             -- context.id
    fromno integer,                 -- as in arc
    tono integer,
    count integer,                  -- times the arc was taken
    unique (file_id, context_id, fromno, tono)
);
CREATE TABLE tally_counts (
    file_id integer,                -- file.id
    context_id integer,             -- context.id
    counts blob,                    -- {line: count}, data/numbits.py pack_counts (version 1)
    unique (file_id, context_id)
);
"""
# meta keys tally writes: has_arcs ('0'/'1', read by coverage.py), version (tally's),
# when, sys_argv, tally_schema, tally_version, tally_engine, python_version,
# tally_counts ('0'/'1'), tally_branches ('0'/'1'), tally_file_id (random: each written file's
# own, so that `combine` tells a copy of a file from another run with the same data),
# tally_counts_asked ('1' when the run was asked for counts: COUNTS_ASKED).
