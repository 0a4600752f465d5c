"""Rewrite run records of the layout before `nst.RunRecord` in the current one, in place.

    python -m scripts.upgrade_records examples/paper/rendered      # every .json under a folder
    python -m scripts.upgrade_records out/cat.json                 # one CLI record

Two older layouts are read: a CLI record (`output`, `styles`, `mask` and the run's facts
beside `settings`) and a paper cell's record (the cell's place, `content`, `style`,
`image` and the run's facts in one flat object). What they did not record is written as
`NOT_RECORDED`: the CLI's photo, nst's version, torch's version and the start time of a
CLI run; every run of those records went to its last step. A file already in the current
layout is left alone; anything else is refused in one line. Run once over
`examples/paper/rendered/` when `nst.record` came in.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from nst.config import Settings
from nst.errors import NSTError
from nst.paper.cells import CELL_KEYS
from nst.record import RunRecord, read_json

__all__ = ["NOT_RECORDED", "upgrade", "upgrade_file", "main"]

NOT_RECORDED = "(not recorded)"
_CLI_KEYS = {"output", "seconds", "device", "network", "weights", "optimizer", "gamma", "scales", "styles", "mask",
             "final_losses", "settings"}
_CELL_KEYS = {*CELL_KEYS, "image", "content", "style", "settings", "final_losses", "seconds", "device", "network",
              "weights", "optimizer", "gamma", "torch", "created"}


def upgrade(old: dict[str, Any]) -> dict[str, Any] | None:
    """`old` in the current layout, or None when it is in the current layout already."""
    fields = {f.name for f in dataclasses.fields(RunRecord)}
    if set(old) == {*CELL_KEYS, "run"} or set(old) in (fields, fields - {"tiles"}):  # tiles: read back as ()
        return None
    if set(old) not in (_CLI_KEYS, _CELL_KEYS):
        raise NSTError(f"not a record of a known layout (keys: {', '.join(sorted(map(str, old)))})")
    settings = Settings.from_dict(old["settings"])
    facts = {key: old[key] for key in ("settings", "gamma", "optimizer", "network", "weights", "final_losses",
                                       "seconds", "device")}
    if set(old) == _CLI_KEYS:
        run = {**facts, "scales": old["scales"], "content": NOT_RECORDED, "paintings": old["styles"],
               "regions": old["mask"], "output": old["output"], "steps_done": settings.steps,
               "version": NOT_RECORDED, "torch": NOT_RECORDED, "created": NOT_RECORDED}
        return RunRecord.from_dict(run).to_dict()
    run = {**facts, "scales": [list(p) for p in settings.scale_plan()], "content": old["content"],
           "paintings": [old["style"]], "regions": None, "output": old["image"], "steps_done": settings.steps,
           "version": NOT_RECORDED, "torch": old["torch"], "created": old["created"]}
    return {**{key: old[key] for key in CELL_KEYS}, "run": RunRecord.from_dict(run).to_dict()}


def upgrade_file(path: Path) -> bool:
    """Rewrite the record at `path` in the current layout; whether it changed."""
    old = read_json(path)
    if not isinstance(old, dict):
        raise NSTError(f"{path}: not a record (a JSON object)")
    try:
        new = upgrade(old)
    except NSTError as exc:
        raise NSTError(f"{path}: {exc}") from None
    if new is None:
        return False
    path.write_text(json.dumps(new, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    """Upgrade every record named, or under a folder named; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m scripts.upgrade_records", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="record files, or folders to search for *.json")
    args = parser.parse_args(argv)
    files = [f for p in args.paths for f in (sorted(p.rglob("*.json")) if p.is_dir() else [p])]
    try:
        changed = sum(upgrade_file(f) for f in files)
    except NSTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{changed} of {len(files)} records rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
