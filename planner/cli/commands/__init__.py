"""CLI subcommands. Each module here defines ``command`` (a click command or group);
``planner.cli`` discovers and registers them, so adding a command never edits cli.py."""
