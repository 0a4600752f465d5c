"""Rewrite run records of older layouts in the current one (`nst.RunRecord`), in place.

    python -m scripts.upgrade_records examples/paper/rendered      # every .json under a folder
    python -m scripts.upgrade_records out/cat.json                 # one CLI record

Three older layouts are read: a CLI record (`output`, `styles`, `mask` and the run's facts
beside `settings`), a paper cell's record (the cell's place, `content`, `style`, `image`
and the run's facts in one flat object), and records of nst 0.1.0, whose names were
renamed in 0.2.0 (`RENAMED_SETTINGS`, `RENAMED_FACTS`); settings added since
(`ADDED_SETTINGS`) are written at their defaults. What they did not record is
written as `NOT_RECORDED`: the CLI's photo, nst's version, torch's version and the start
time of a CLI run; every run of those records went to its last step. A cell whose hash
matched its inputs gets the hash of the current settings, so it is still found; a stale
one stays stale. A file already in the current layout is left alone; anything else is
refused in one line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from nst.config import Settings, field_spec
from nst.errors import NSTError
from nst.paper.cells import CELL_KEYS, inputs_hash
from nst.record import RunRecord, read_json

__all__ = ["NOT_RECORDED", "RENAMED_SETTINGS", "RENAMED_FACTS", "ADDED_SETTINGS", "upgrade", "upgrade_file", "main"]

NOT_RECORDED = "(not recorded)"
# Names of nst 0.1.0 → their names since 0.2.0.
RENAMED_SETTINGS = {"mix": "fusion", "style_weights": "painting_weights"}
RENAMED_FACTS = {"weights": "network_source"}
# Settings added since those records were written; at their defaults they make the image the record's run made
# (the painting as large as the output up to 1024 px; a budget that keeps such runs whole; no early stopping).
ADDED_SETTINGS = ("style_scale", "memory_budget_gb", "early_stop")
_CLI_KEYS = {"output", "seconds", "device", "network", "network_source", "optimizer", "gamma", "scales", "styles",
             "mask", "final_losses", "settings"}
_CELL_KEYS = {*CELL_KEYS, "image", "content", "style", "settings", "final_losses", "seconds", "device", "network",
              "network_source", "optimizer", "gamma", "torch", "created"}


def upgrade(old: dict[str, Any]) -> dict[str, Any] | None:
    """`old` in the current layout, or None when it is in the current layout already."""
    if set(old) == {*CELL_KEYS, "run"} and isinstance(old["run"], dict):
        run = _renamed(old["run"])
        if run == old["run"]:
            return None
        return {**old, "hash": _rehashed(old["hash"], old["run"]["settings"], run),
                "run": RunRecord.from_dict(run).to_dict()}
    fields = {f.name for f in dataclasses.fields(RunRecord)}
    later = {f.name for f in dataclasses.fields(RunRecord) if f.default is not dataclasses.MISSING}
    if fields - later <= set(_renamed(old)) <= fields:  # facts recorded since (tiles, …) are read back by from_dict
        return None if _renamed(old) == old else RunRecord.from_dict(_renamed(old)).to_dict()
    given, old = old, _renamed(old)
    if set(old) not in (_CLI_KEYS, _CELL_KEYS):
        raise NSTError(f"not a record of a known layout (keys: {', '.join(sorted(map(str, old)))})")
    settings = Settings.from_dict(old["settings"])
    facts = {key: old[key] for key in ("settings", "gamma", "optimizer", "network", "network_source", "final_losses",
                                       "seconds", "device")}
    if set(old) == _CLI_KEYS:
        run = {**facts, "scales": old["scales"], "content": NOT_RECORDED, "paintings": old["styles"],
               "regions": old["mask"], "output": old["output"], "steps_done": settings.steps,
               "version": NOT_RECORDED, "torch": NOT_RECORDED, "created": NOT_RECORDED}
        return RunRecord.from_dict(run).to_dict()
    run = {**facts, "scales": [list(p) for p in settings.scale_plan()], "content": old["content"],
           "paintings": [old["style"]], "regions": None, "output": old["image"], "steps_done": settings.steps,
           "version": NOT_RECORDED, "torch": old["torch"], "created": old["created"]}
    return {**{key: old[key] for key in CELL_KEYS}, "hash": _rehashed(old["hash"], given["settings"], run),
            "run": RunRecord.from_dict(run).to_dict()}


def _renamed(record: dict[str, Any]) -> dict[str, Any]:
    """`record` (a run or an older flat record) with the names of 0.1.0 renamed, its settings' too,
    and the settings added since (`ADDED_SETTINGS`) written at their defaults."""
    new = {RENAMED_FACTS.get(key, key): value for key, value in record.items()}
    if isinstance(new.get("settings"), dict):
        new["settings"] = {RENAMED_SETTINGS.get(key, key): value for key, value in new["settings"].items()}
        new["settings"] |= {name: field_spec(name)["default"] for name in ADDED_SETTINGS
                            if name not in new["settings"]}
    return new


def _rehashed(old_hash: str, old_settings: dict[str, Any], run: dict[str, Any]) -> str:
    """The hash of a cell whose settings were renamed: recomputed when the old one matched
    its inputs (the paths are relative to the folder this runs in), else left as it was."""
    content, style = Path(run["content"]), Path(run["paintings"][0])
    if not (content.is_file() and style.is_file()) or inputs_hash(old_settings, content, style) != old_hash:
        return old_hash
    return inputs_hash(dataclasses.asdict(Settings.from_dict(run["settings"])), content, style)


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
