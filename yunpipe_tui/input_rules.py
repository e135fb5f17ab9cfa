"""Rules every value from a user's file meets before yunpipe writes it anywhere or sends it to AWS.

Input is treated as possibly hostile: a value may carry a newline into a Dockerfile, an
environment variable may redirect the task's AWS calls, a value may be 50 MB long. These rules
refuse such input with one short line; no message quotes more than QUOTE_LIMIT characters of a
value, and every check is linear in the size of what it reads.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # jsonfile quotes values with this module's `quote`
    from yunpipe_tui.errors import Problem
    from yunpipe_tui.jsonfile import LoadedJson

MAX_FILE_BYTES = 1024 * 1024  # workflow and algorithm files; the seed's are under 1 KiB
# Values (strings, numbers, lists...) in one file: a 99-step workflow holds a few thousand; schema
# validation costs about 0.4 ms a value, so a file of 1 MiB of `1,` would take minutes.
MAX_VALUES = 20_000
MAX_PROBLEMS = 50  # problems reported for one file; the rest are counted
QUOTE_LIMIT = 80
MAX_CONTROL_PROBLEMS = 20  # one file full of control characters still gives a short report

# C0 and C1 controls, DEL, the Unicode line/paragraph separators and the bidirectional overrides
# (text that reads differently from what it does).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

# Variable names that change where the task's AWS calls go (endpoints, credential sources,
# config files), what it executes (PATH, the loader, the interpreter) or where it reads its
# settings (HOME). Compared case-insensitively: a near-miss is refused rather than guessed at.
FORBIDDEN_PREFIXES = ("AWS_", "ECS_", "LD_", "PYTHON")
FORBIDDEN_NAMES = frozenset({"PATH", "HOME"})
RESERVED_PREFIX = "YUNPIPE_"

KEY_PAIR_MAX = 255  # EC2: a key pair name is at most 255 ASCII characters


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """`repr` of a value for a message: control characters escaped, at most `limit` characters
    of it shown, and the full length said when it was cut."""
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}… ({len(value)} characters)"
    if isinstance(value, dict | list | tuple):
        short = reprlib.Repr()
        short.maxstring = short.maxother = 24
        short.maxdict = short.maxlist = short.maxtuple = 4
        short.maxlevel = 2
        text = short.repr(value)
        return text if len(text) <= limit else text[:limit] + "…"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def control_character(text: str) -> str | None:
    """'U+000A at position 5' for the first control character in the text, or None."""
    found = _CONTROL.search(text)
    if found is None:
        return None
    return f"U+{ord(found.group()):04X} at position {found.start() + 1}"


def count_values(data: Any, stop_after: int = MAX_VALUES) -> int:
    """How many JSON values the document holds (counting stops just past `stop_after`)."""
    seen, stack = 0, [data]
    while stack and seen <= stop_after:
        value = stack.pop()
        seen += 1
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return seen


def _strings(data: Any) -> Iterator[tuple[tuple[str | int, ...], str, bool]]:
    """(path, text, is_a_key) for every string in a JSON document; iterative, so a deeply
    nested document cannot exhaust the stack."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            yield path, value, False
        elif isinstance(value, dict):
            for key, child in reversed(list(value.items())):
                yield (*path, key), key, True
                stack.append(((*path, key), child))
        elif isinstance(value, list):
            stack.extend(((*path, i), child) for i, child in reversed(list(enumerate(value))))


def control_character_problems(doc: LoadedJson) -> list[Problem]:
    """A problem for every field name or value that holds a control character."""
    problems: list[Problem] = []
    for path, text, is_key in _strings(doc.data):
        where = control_character(text)
        if where is None:
            continue
        what = f"the field name {quote(text)}" if is_key else quote(text)
        problems.append(
            doc.problem(path, f"{what} contains a control character ({where}); remove it")
        )
        if len(problems) >= MAX_CONTROL_PROBLEMS:
            break
    return problems


def capped(problems: list[Problem]) -> list[Problem]:
    """At most MAX_PROBLEMS problems, then one line saying that more were found."""
    if len(problems) <= MAX_PROBLEMS:
        return problems
    from yunpipe_tui.errors import Problem

    note = f"... and more problems (only the first {MAX_PROBLEMS} are listed)"
    return [*problems[:MAX_PROBLEMS], Problem(problems[0].file, note)]


def forbidden_variable(name: str) -> str | None:
    """Why a task may not get an environment variable of this name, or None when it may."""
    upper = name.upper()
    if upper.startswith(RESERVED_PREFIX):
        return f"variable {quote(name)} is reserved for yunpipe's runner; rename it"
    if upper in FORBIDDEN_NAMES or upper.startswith(FORBIDDEN_PREFIXES):
        return (
            f"variable {quote(name)} would change where the task's AWS calls go, with which "
            "credentials, or what it runs (AWS_*, ECS_*, LD_*, PYTHON*, PATH and HOME are "
            "refused); rename it (tasks get AWS access from their task role)"
        )
    return None


# The OCI distribution reference grammar (github.com/distribution/reference, regexp.go):
#   reference := name [ ":" tag ] [ "@" digest ];  name := [domain '/'] path-component ['/' ...]
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?", re.ASCII
)
NAME_TOTAL_MAX = 255  # the distribution library's limit on the name part
REFERENCE_MAX = 512  # name, tag (128) and a sha512 digest fit; anything longer is refused unread

IMAGE_REFERENCE_FORM = (
    "an image reference: [registry[:port]/]path[:tag][@digest] with a lowercase path, "
    "e.g. 'ubuntu:22.04' or 'registry.example.com/team/tool:v1'"
)


def image_reference_problem(reference: str) -> str | None:
    """Why this is not an image reference `docker pull` accepts, or None when it is."""
    if not reference:
        return f"must be {IMAGE_REFERENCE_FORM}"
    if len(reference) > REFERENCE_MAX:
        return f"{quote(reference)} is too long for {IMAGE_REFERENCE_FORM}"
    if where := control_character(reference):
        return (
            f"{quote(reference)} is not an image reference: it contains a control character "
            f"({where})"
        )
    found = _REFERENCE.fullmatch(reference)
    if found is None:
        return f"{quote(reference)} is not {IMAGE_REFERENCE_FORM}"
    if len(found.group("name")) > NAME_TOTAL_MAX:
        return f"{quote(reference)}: the image name is longer than {NAME_TOTAL_MAX} characters"
    return None


def key_pair_problem(name: str) -> str | None:
    """EC2 key pair names are at most 255 ASCII characters."""
    if len(name) > KEY_PAIR_MAX:
        return (
            f"key pair name {quote(name)} is longer than EC2 allows ({KEY_PAIR_MAX} characters); "
            "give the name of a key pair in your account or remove key_pair"
        )
    if not name.isascii():
        return f"key pair name {quote(name)} must be ASCII (EC2's rule); check the name"
    return None
