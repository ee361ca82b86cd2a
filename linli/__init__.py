"""The ``linli`` front door: a thin command line that hands each subcommand to its package."""
