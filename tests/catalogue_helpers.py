"""Reading gettext catalogues (.po) without a third-party parser: what the i18n tests compare."""

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

PLACEHOLDER = re.compile(r"%\(\w+\)[sdifr]|%[sdif]")


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    context: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    @property
    def key(self) -> tuple[str | None, str]:
        return self.context, self.msgid

    @property
    def translations(self) -> list[str]:
        return [self.msgstr[index] for index in sorted(self.msgstr)]


def _unquote(text: str) -> str:
    return ast.literal_eval(text) if text else ""


def read_po(path: Path) -> list[Entry]:
    """Every entry of a .po file but the header, obsolete ones included (flagged)."""
    entries, entry, target = [], Entry(), None

    def finish():
        nonlocal entry, target
        if entry.msgid or entry.msgstr:
            entries.append(entry)
        entry, target = Entry(), None

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if not line:
            finish()
            continue
        if line.startswith("#,"):
            entry.flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        entry.obsolete = entry.obsolete or obsolete
        keyword, _, rest = line.partition(" ")
        if keyword.startswith('"'):
            value = _unquote(line)
            if target == "msgid":
                entry.msgid += value
            elif target == "msgid_plural":
                entry.msgid_plural += value
            elif target == "msgctxt":
                entry.context += value
            else:
                entry.msgstr[target] += value
            continue
        if entry.msgstr and keyword in ("msgctxt", "msgid"):  # a new entry without a blank line before it
            finish()
        value = _unquote(rest)
        if keyword == "msgctxt":
            entry.context, target = value, "msgctxt"
        elif keyword == "msgid":
            entry.msgid, target = value, "msgid"
        elif keyword == "msgid_plural":
            entry.msgid_plural, target = value, "msgid_plural"
        elif keyword == "msgstr":
            entry.msgstr[0], target = value, 0
        elif keyword.startswith("msgstr["):
            index = int(keyword[len("msgstr[") : -1])
            entry.msgstr[index], target = value, index
    finish()
    return [e for e in entries if e.msgid]


def placeholders(text: str) -> list[str]:
    """The Python-format placeholders of a message ("%%" is a literal percent sign, not one)."""
    return sorted(match.group(0) for match in PLACEHOLDER.finditer(text.replace("%%", "")))
