"""Which files each command reads and writes, and the checks made before any work.

Every subcommand declares its file arguments once, beside their definitions
(:func:`declare_files`). Before the command starts, :func:`check_files` refuses an
output that cannot be written, and an output that is the same file as one of the
command's inputs or as another of its outputs, however the two are spelled. Files are
compared, not spellings: by device and inode when the file exists (so ``./``,
``../dir/``, absolute paths, symlinks and hard links are all seen through), and by the
resolved real path when it does not exist yet.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FileRoles", "check_files", "check_output", "declare_files"]


@dataclass(frozen=True)
class _Role:
    dest: str  # the attribute of the parsed arguments
    label: str  # how the user names it: "--out", or a positional's metavar
    inside: tuple[str, ...] = ()  # for a folder: the names of the files written into it


@dataclass(frozen=True)
class FileRoles:
    """The file arguments of one command: what it reads and what it writes."""

    inputs: tuple[_Role, ...]
    outputs: tuple[_Role, ...]


def declare_files(
    parser: argparse.ArgumentParser,
    *,
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
    folders: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Record which of ``parser``'s arguments (by ``dest``) are read and which are written.

    ``folders`` maps a folder argument to the names of the files the command writes
    into it; each of those files counts as an output.
    """
    labels = {action.dest: _label(action) for action in parser._actions}
    for dest in [*inputs, *outputs, *(folders or {})]:
        if dest not in labels:
            raise ValueError(f"{parser.prog} has no argument {dest!r} to declare")
    roles = FileRoles(
        inputs=tuple(_Role(dest, labels[dest]) for dest in inputs),
        outputs=(
            *(_Role(dest, labels[dest]) for dest in outputs),
            *(_Role(dest, labels[dest], tuple(names)) for dest, names in (folders or {}).items()),
        ),
    )
    parser.set_defaults(file_roles=roles)


def check_files(args: argparse.Namespace) -> None:
    """Refuse, before any work, outputs that cannot be written or would destroy a file.

    Raises
    ------
    ValueError
        If an output is the same file as an input or as another output; the message
        names both as the user wrote them.
    OSError
        If an output's folder is missing, the output is a folder, or it is not writable.
    """
    roles: FileRoles | None = getattr(args, "file_roles", None)
    if roles is None:
        return
    seen: list[tuple[object, str, bool]] = []  # (identity, description, is an input)
    for role in roles.inputs:
        value = getattr(args, role.dest, None)
        if value is None:
            continue
        identity = _identity(value, existing_only=True)
        # A missing input is the command's own error to report, in its own words.
        if identity is not None:
            seen.append((identity, _describe(role, value), True))
    for role, value, path in _outputs(args, roles.outputs):
        described = _describe(role, value, path)
        identity = _identity(path, existing_only=False)
        for other, other_described, is_input in seen:
            if identity == other:
                consequence = (
                    "writing it would destroy that input"
                    if is_input
                    else "one would overwrite the other"
                )
                raise ValueError(
                    f"{described} is the same file as {'the input ' if is_input else ''}"
                    f"{other_described}; {consequence}. Choose another {role.label}"
                )
        seen.append((identity, described, False))


def check_output(path: str, flag: str) -> None:
    """Fail before any work if ``path`` cannot be written."""
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"{flag} {path}: this is a folder; give a file name")
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{flag} {path}: the folder {str(folder)!r} does not exist; create it first"
        )
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise PermissionError(f"{flag} {path}: no permission to write there")


def _outputs(args: argparse.Namespace, roles: Iterable[_Role]) -> Iterable[tuple[_Role, str, str]]:
    """(role, the value given, one file written) for every output file of the command."""
    for role in roles:
        value = getattr(args, role.dest, None)
        if value is None:
            continue
        value = os.fspath(value)
        if not role.inside:
            check_output(value, role.label)
            yield role, value, value
            continue
        if os.path.exists(value) and not os.path.isdir(value):
            raise NotADirectoryError(f"{role.label} {value}: this is a file; give a folder")
        for name in role.inside:
            yield role, value, os.path.join(value, name)


def _identity(path: str, *, existing_only: bool) -> object:
    """What makes two paths the same file: (device, inode), else the resolved path."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        if existing_only:
            return None
        # Not there yet: two spellings of it are the same file if they resolve alike.
        return ("path", os.path.normcase(os.path.realpath(path)))
    return ("file", status.st_dev, status.st_ino)


def _describe(role: _Role, value: str, path: str | None = None) -> str:
    named = f"{role.label} {value}" if role.label.startswith("-") else f"{value} ({role.label})"
    if path is not None and path != value:
        named += f" (its file {path})"
    return named


def _label(action: argparse.Action) -> str:
    if action.option_strings:
        long = [option for option in action.option_strings if option.startswith("--")]
        return (long or action.option_strings)[0]
    metavar = action.metavar if isinstance(action.metavar, str) else None
    return metavar or action.dest
