"""How a model may read text when it looks for our delimiter tags.

`reading(text)` is the text as a reader that sees through disguises takes it:

- encoded characters decoded: HTML entities (`&lt;`, `&#60;`, `&#x3C;`, `&lt` with no semicolon,
  up to three levels of `&amp;`), percent escapes (`%3C`), backslash escapes (`\\u003c`);
- Unicode tag characters (U+E0020..U+E007E) read as the ASCII they shadow ("ASCII smuggling");
- compatibility forms folded (NFKD: full-width letters, "＜", "﹤", "／") and case folded;
- every character a model may skip dropped: format characters (Cf: zero-width, bidi), combining
  and enclosing marks (Mn, Me: variation selectors are Mn), unassigned and lone surrogate code
  points (Cn, Cs), and the Hangul fillers (letters, but default-ignorable). NFKD rather than NFKC:
  a mark is dropped before it can compose with the letter it sits on;
- confusables folded to their prototype, as in the UTS #39 skeleton (Cyrillic "а" reads "a",
  "˂" reads "<", "m" reads "rn"), from Unicode's confusables.txt shipped in judge/data;
- the angle brackets that confusables.txt keeps apart from "<" ("〈", "⟨", "«", "《") read "<";
  so do small capitals and a few Greek and Cyrillic letters it leaves apart from the Latin letter
  a reader takes them for ("τ" reads "t": its prototype is the small capital "ᴛ").

`TAG_READ` matches, in a reading, the start of anything that reads as one of our tags: "<", then
optionally "/", then a tag name whose words may be joined by "_", "-", ".", spaces or nothing.
Everything here is linear in the length of the text: per-character readings are looked up, never
searched for in a window.
"""

from __future__ import annotations

import html
import html.entities
import re
import unicodedata
from collections.abc import Iterable
from functools import cache, lru_cache
from importlib import resources

_SKIPPED = frozenset({"Cf", "Mn", "Me", "Cn", "Cs"})
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0")
# Angle brackets a reader takes for "<" that confusables.txt does not map to it ("〈" and "⟨"
# have the prototype "❬" there).
_BRACKETS = frozenset("❬«《⟪⦑⧼❰⊰≺⋖⪡")
# Letters read as a Latin letter that confusables.txt maps elsewhere (or not at all).
_LETTERS = {"ε": "e", "κ": "k", "к": "k", "м": "m", "н": "h", "т": "t", "п": "n", "г": "r"}
_LETTERS |= {"ь": "b", "ω": "w", "μ": "u", "χ": "x", "η": "n", "υ": "u", "ν": "v", "ι": "i"}
_SMALL_CAPITAL = re.compile(r"LATIN LETTER SMALL CAPITAL ([A-Z])")
_TAG_BASE = 0xE0000  # U+E0020..U+E007E shadow ASCII 0x20..0x7E

# Encoded characters, each read as the character it stands for. Named entities: any name with its
# semicolon, or one of HTML's legacy names that need none ("&lt" is "<" in a browser too).
_LEGACY = sorted((k for k in html.entities.html5 if not k.endswith(";")), key=len, reverse=True)
# It starts with a character class so that the regex engine skips ahead at C speed.
ENCODED = re.compile(
    r"[&%\\](?:(?<=&)(?:amp;){0,3}(?:#0*[0-9]{1,7};?|#[xX]0*[0-9a-fA-F]{1,6};?|"
    r"[A-Za-z][A-Za-z0-9]{1,31};|" + "|".join(_LEGACY) + r")|(?<=%)[0-7][0-9a-fA-F]|"
    r"(?<=\\)(?:u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{2}))"
)


def may_encode(text: str) -> bool:
    """Whether `text` may hold an encoded character (cheap: three substring tests)."""
    return "&" in text or "%" in text or "\\" in text


@lru_cache(maxsize=4096)
def decode(token: str) -> str:
    """The characters an encoded token (a match of ENCODED) stands for."""
    if token[0] == "%":
        return chr(int(token[1:], 16))
    if token[0] == "\\":
        code = int(token[2:], 16)
        return chr(code) if code < 0x110000 and not 0xD800 <= code < 0xE000 else ""
    for _ in range(4):  # "&amp;amp;lt;" -> "&amp;lt;" -> "&lt;" -> "<"
        if token.startswith("&#"):  # normalised first: int() of a long run of zeros is refused
            hexa = token[2:3] in "xX"
            digits = token[3:] if hexa else token[2:]
            code = int(digits.rstrip(";"), 16 if hexa else 10)
            token = f"&#{code};"
        decoded = html.unescape(token)
        if decoded == token:
            break
        token = decoded
    return token


@cache
def prototypes() -> dict[str, str]:
    """What each character reads as: its prototype in confusables.txt (UTS #39, section 4),
    "<" for the brackets and a Latin letter for the letters above and the small capitals."""
    table = resources.files("judge").joinpath("data/confusables.txt").read_text("utf-8-sig")
    out: dict[str, str] = {}
    for line in table.splitlines():
        fields = line.split("#", 1)[0].split(";")
        if len(fields) >= 2:
            source = "".join(chr(int(c, 16)) for c in fields[0].split())
            out[source] = "".join(chr(int(c, 16)) for c in fields[1].split())
    for c in {c for proto in out.values() for c in proto}:
        small = _SMALL_CAPITAL.fullmatch(unicodedata.name(c, ""))
        if small:
            out[c] = small.group(1).lower()
    return out | _LETTERS | dict.fromkeys(_BRACKETS, "<")


def _fold(text: str) -> str:
    return "".join(
        c
        for c in unicodedata.normalize("NFKD", text.casefold())
        if unicodedata.category(c) not in _SKIPPED and c not in _FILLERS
    )


def read_char(char: str) -> str:
    """One character as a model may read it (see the module's doc)."""
    code = ord(char)
    if 0xE0020 <= code <= 0xE007E:
        char = chr(code - _TAG_BASE)
    # Twice: case folding may leave a mark ("İ" -> "i" + U+0307) and NFKD an upper-case letter.
    text = _fold(_fold(char))
    protos = prototypes()
    for _ in range(4):  # prototypes may be upper case or decompose: fold until nothing changes
        mapped = _fold("".join(protos.get(c, c) for c in text))
        if mapped == text:
            break
        text = mapped
    return text


class _Readings(dict[int, str]):
    """Code point -> its reading, filled as characters are met (a str.translate table)."""

    def __missing__(self, code: int) -> str:
        value = read_char(chr(code))
        if len(self) < 300_000:  # every code point of an adversarial text: bounded memory
            self[code] = value
        return value


READINGS = _Readings()


def read_unit(unit: str) -> str:
    """The reading of one unit: an encoded token (a match of ENCODED) or one character."""
    chars = decode(unit) if len(unit) > 1 else unit
    return "".join(READINGS[ord(c)] for c in chars)


def decoded(text: str) -> str:
    """`text` with its encoded characters decoded."""
    if may_encode(text) and ENCODED.search(text):
        return ENCODED.sub(lambda m: decode(m.group()), text)
    return text


def reading(text: str) -> str:
    """`text` as a model may read it when looking for tags (see the module's doc)."""
    return decoded(text).translate(READINGS)


def has_bracket(text: str) -> bool:
    """Whether any character of `text` reads as (or with) "<": the test, over its distinct
    characters, that lets most non-ASCII text skip computing its reading."""
    return any("<" in READINGS[ord(c)] for c in set(text))


# The words of each tag name as they are read; a reader takes `candidate-response`,
# `candidate response` or `candidateresponse` for `candidate_response`.
_SEP = r"[\s_.\-]*"


def _name_pattern(name: str, word: str) -> str:
    return _SEP.join(word.format(read=re.escape(reading(w))) for w in name.split("_"))


def tag_pattern(names: Iterable[str]) -> str:
    """A regex over readings: the start of anything that reads as an opening or closing tag."""
    alternatives = "|".join(_name_pattern(n, "{read}") for n in names)
    return r"<\s*(?:[/\\]\s*)?(?:" + alternatives + ")"


def ascii_tag_pattern(names: Iterable[str]) -> str:
    """The same as `tag_pattern`, over ASCII text free of encoded characters (case-insensitive):
    each character of a name is matched by the ASCII characters that read as it ("o" or "0",
    "rn" or "m"), so ASCII text is searched without computing its reading."""
    ascii_reads = {chr(c): READINGS[c] for c in range(0x20, 0x7F) if not chr(c).isupper()}

    def spelled(read: str) -> str:
        if not read:
            return ""
        options = [
            re.escape(a) + spelled(read[len(r) :])
            for a, r in ascii_reads.items()
            if r and read.startswith(r)
        ]
        return "(?:" + "|".join(options) + ")"

    alternatives = "|".join(_SEP.join(spelled(reading(w)) for w in n.split("_")) for n in names)
    return r"<\s*(?:[/\\]\s*)?(?:" + alternatives + ")"
