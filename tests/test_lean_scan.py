"""Static checks on the Lean sources in lean/ (no Lean toolchain needed).

* no `sorry`, `admit`, `native_decide` and no `axiom` declaration anywhere in the code
  (comments and string literals are stripped first, so prose such as "axiomatic" or a
  docstring that mentions sorry does not count);
* `lean/lean-toolchain` and the Mathlib tag required in `lean/lakefile.toml` are a matched pair
  (table below);
* every theorem listed in `lean/README.md` exists in the sources, and every `theorem` in the
  sources is listed there;
* `lean/JepaTorus.lean` imports every module under `lean/JepaTorus/`;
* no Mathlib name known to be deprecated (`DEPRECATED_NAMES`) is used, and every `nlinarith`
  is given hints: a bare `nlinarith` leaves the whole product search to the tactic, which is
  where a proof nobody could compile here is most likely to time out (both found by reading
  the proofs against Mathlib's source, see lean/README.md).

Run as a script (`python3 tests/test_lean_scan.py`) it does the same without pytest; the Lean CI
workflow calls it that way before building.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEAN = ROOT / "lean"

# Mathlib release tag -> the `lean-toolchain` of that tag's own commit. Mathlib tags `v4.X.0` on
# the commit that moves Mathlib to the stable toolchain `leanprover/lean4:v4.X.0`; the original
# repository's pair (toolchain v4.16.0 with Mathlib v4.27.0) is exactly what this guards against.
# v4.26.0: tag commit 2df2f0150c275ad53cb3c90f7c98ec15a56a1a67, pinned by public projects whose
# lake-manifest.json has `"rev": "2df2f01...", "inputRev": "v4.26.0"` next to
# `lean-toolchain = leanprover/lean4:v4.26.0` (see lean/README.md, "Toolchain").
VERIFIED_PAIRS = {
    "v4.26.0": "leanprover/lean4:v4.26.0",
}
VERIFIED_TAG_COMMITS = {
    "v4.26.0": "2df2f0150c275ad53cb3c90f7c98ec15a56a1a67",
}

FORBIDDEN_TOKENS = ("sorry", "sorryAx", "admit", "native_decide", "axiom")
# Lean identifiers may contain letters, digits, `_`, `'`, `!`, `?` and `.` (namespaces).
_TOKEN_RE = re.compile(r"(?<![\w'.!?])(" + "|".join(FORBIDDEN_TOKENS) + r")(?![\w'!?])")


# Mathlib names that are deprecated aliases (a warning today, an error once the alias is
# removed) -> the name to use. Each was read in Mathlib's source: the `Order/Defs/LinearOrder`
# renames of 2025-05-11, the ordered-field renames of 2024-02-16 and the `₀` versions of the
# division iff-lemmas (autumn 2024).
DEPRECATED_NAMES = {
    "le_or_lt": "le_or_gt",
    "lt_or_le": "lt_or_ge",
    "le_of_not_le": "le_of_not_ge",
    "le_of_not_lt": "le_of_not_gt",
    "eq_or_lt_of_not_lt": "eq_or_gt_of_not_lt",
    "div_le_div_of_le_left": "div_le_div_of_nonneg_left",
    "div_lt_div_of_lt_left": "div_lt_div_of_pos_left",
    "div_le_div_of_le_of_nonneg": "div_le_div_of_nonneg_right",
    "div_lt_div_of_lt": "div_lt_div_of_pos_right",
    "le_div_iff": "le_div_iff₀",
    "div_le_iff": "div_le_iff₀",
    "lt_div_iff": "lt_div_iff₀",
    "div_lt_iff": "div_lt_iff₀",
}
# A whole identifier: not preceded by an identifier character or `.` (so `Nat.le_or_lt` or
# `foo.le_div_iff` are other lemmas) and not continued (`le_div_iff₀`, `le_or_lt'`); Python's
# `\w` covers Lean's subscript digits.
_DEPRECATED_RE = re.compile(r"(?<![\w'.!?])(" + "|".join(map(re.escape, DEPRECATED_NAMES))
                            + r")(?![\w'!?])")
_NLINARITH_RE = re.compile(r"(?<![\w'.!?])nlinarith(?![\w'?])")


def lean_sources() -> list[Path]:
    """Every .lean file of the project (the Lake build directory excluded)."""
    return sorted(p for p in LEAN.rglob("*.lean") if ".lake" not in p.relative_to(LEAN).parts)


def strip_comments_and_strings(src: str) -> str:
    """Remove `-- ...` line comments, nested `/- ... -/` block (and doc) comments and
    string literals; newlines are kept so line numbers stay meaningful."""
    out: list[str] = []
    i, n, depth = 0, len(src), 0
    while i < n:
        two = src[i : i + 2]
        if depth:
            if two == "/-":
                depth += 1
                i += 2
            elif two == "-/":
                depth -= 1
                i += 2
            else:
                if src[i] == "\n":
                    out.append("\n")
                i += 1
            continue
        if two == "/-":
            depth = 1
            i += 2
        elif two == "--":
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src[i] == '"':
            i += 1
            while i < n and src[i] != '"':
                i += 2 if src[i] == "\\" else 1
            i += 1
            out.append('""')
        elif src[i] == "'" and i + 2 < n and src[i + 2] == "'" and not (i and (src[i - 1].isalnum() or src[i - 1] in "_'")):
            out.append("' '")  # a character literal such as 'a'
            i += 3
        else:
            out.append(src[i])
            i += 1
    return "".join(out)


def forbidden_hits(src: str) -> list[tuple[int, str]]:
    code = strip_comments_and_strings(src)
    hits = []
    for m in _TOKEN_RE.finditer(code):
        line = code.count("\n", 0, m.start()) + 1
        hits.append((line, m.group(1)))
    return hits


def deprecated_hits(src: str) -> list[tuple[int, str]]:
    """(line, name) for every use of a name in `DEPRECATED_NAMES` outside comments/strings."""
    code = strip_comments_and_strings(src)
    return [(code.count("\n", 0, m.start()) + 1, m.group(1)) for m in _DEPRECATED_RE.finditer(code)]


def bare_nlinarith_hits(src: str) -> list[int]:
    """Lines of `nlinarith` calls without a non-empty hint list `[...]`.

    The syntax is `nlinarith[!] [(config := ...)]* [only] [h₁, ...]`; whatever follows the
    optional parts must open a list with at least one term."""
    code = strip_comments_and_strings(src)
    hits = []
    for m in _NLINARITH_RE.finditer(code):
        i, n = m.end(), len(code)
        if i < n and code[i] == "!":
            i += 1
        while True:
            while i < n and code[i] in " \t\n":
                i += 1
            if code.startswith("(", i):  # a `(config := ...)` argument: skip it, nested parens included
                depth = 0
                while i < n:
                    depth += {"(": 1, ")": -1}.get(code[i], 0)
                    i += 1
                    if depth == 0:
                        break
                continue
            if re.match(r"only(?![\w'])", code[i:]):
                i += len("only")
                continue
            break
        if not re.match(r"\[\s*[^\s\]]", code[i:]):
            hits.append(code.count("\n", 0, m.start()) + 1)
    return hits


def declared_names(code: str) -> set[str]:
    return set(re.findall(r"(?m)^\s*(?:@\[[^\]]*\]\s*)?(?:private\s+|protected\s+|noncomputable\s+)*"
                          r"(?:theorem|lemma|def)\s+([^\s:({\[]+)", code))


def declared_theorems(code: str) -> set[str]:
    return set(re.findall(r"(?m)^\s*(?:@\[[^\]]*\]\s*)?(?:private\s+|protected\s+)*theorem\s+([^\s:({\[]+)",
                          code))


def all_code() -> str:
    return "\n".join(strip_comments_and_strings(p.read_text(encoding="utf-8")) for p in lean_sources())


def toolchain() -> str:
    return (LEAN / "lean-toolchain").read_text(encoding="utf-8").strip()


def mathlib_rev() -> str:
    """The `rev` of the mathlib `[[require]]` in lakefile.toml (or `@ "rev"` in lakefile.lean)."""
    toml = LEAN / "lakefile.toml"
    if toml.exists():
        text = toml.read_text(encoding="utf-8")
        for block in re.split(r"(?m)^\s*\[\[", text):
            if re.search(r'(?m)^\s*name\s*=\s*"mathlib"', block):
                m = re.search(r'(?m)^\s*rev\s*=\s*"([^"]+)"', block)
                assert m, "the mathlib [[require]] in lakefile.toml has no rev"
                return m.group(1)
        raise AssertionError("lakefile.toml does not require mathlib")
    text = (LEAN / "lakefile.lean").read_text(encoding="utf-8")
    m = re.search(r'require\s+"?mathlib"?\s+from\s+git\s+"[^"]+"\s*@\s*"([^"]+)"', text)
    assert m, "lakefile.lean does not pin mathlib to a rev"
    return m.group(1)


def readme_theorems() -> list[str]:
    """Names in the first column of the table under '## Theorem index' in lean/README.md."""
    text = (LEAN / "README.md").read_text(encoding="utf-8")
    section = text.split("## Theorem index", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"(?m)^\|\s*`([^`]+)`\s*\|", section)


# ----------------------------------------------------------------------------------------
# tests


def test_scanner_on_synthetic_snippets():
    assert forbidden_hits("theorem t : 1 = 1 := by sorry") == [(1, "sorry")]
    assert forbidden_hits("axiom foo : False") == [(1, "axiom")]
    assert forbidden_hits("example : 2 = 2 := by native_decide\n") == [(1, "native_decide")]
    assert forbidden_hits("theorem t : True := by\n  admit") == [(2, "admit")]
    # prose, comments, docstrings, strings and longer identifiers do not count
    clean = '''/-- the axiomatic approach; no sorry here -/
-- sorry, admit, axiom in a line comment
/- nested /- block -/ sorry -/
def s : String := "sorry axiom"
theorem axioms_free (h : sorry_free) : True := trivial
'''
    assert forbidden_hits(clean) == []


def test_deprecated_name_scan_on_snippets_and_on_spectrum():
    assert deprecated_hits("  rcases le_or_lt (2 * k) N with h | h") == [(1, "le_or_lt")]
    assert deprecated_hits("have := (le_div_iff hc).2 h\nexact lt_or_le a b") == [
        (1, "le_div_iff"), (2, "lt_or_le")]
    # the new names, longer names, other namespaces, comments and strings do not count
    clean = '''rcases le_or_gt a b with h | h
exact (le_div_iff₀ hc).2 h
exact (le_div_iff₀' hc).2 h
exact Foo.le_or_lt a b
exact le_or_lt_of_foo a b
-- le_or_lt is deprecated
def s : String := "le_or_lt"
'''
    assert deprecated_hits(clean) == []
    # the fixed Spectrum.lean passes; putting its old spelling back is caught on that line
    src = (LEAN / "JepaTorus" / "Spectrum.lean").read_text(encoding="utf-8")
    assert deprecated_hits(src) == []
    line = next(k for k, text in enumerate(src.splitlines(), 1) if "le_or_gt" in text)
    assert deprecated_hits(src.replace("le_or_gt", "le_or_lt")) == [(line, "le_or_lt")]


def test_bare_nlinarith_scan_on_snippets_and_on_spectrum():
    assert bare_nlinarith_hits("  constructor <;> nlinarith") == [1]
    assert bare_nlinarith_hits("have h : x < 1 := by nlinarith\n") == [1]
    assert bare_nlinarith_hits("by\n  nlinarith []") == [2]
    assert bare_nlinarith_hits("nlinarith (config := { splitNe := true })") == [1]
    assert bare_nlinarith_hits("nlinarith only") == [1]
    hinted = '''nlinarith [sq_nonneg (x - 1), h]
nlinarith! [mul_nonneg h0 (sub_nonneg.2 h.le)]
nlinarith (config := { splitNe := (true) }) only [h]
nlinarith
  [h]
-- a bare nlinarith in a comment
'''
    assert bare_nlinarith_hits(hinted) == []
    # the fixed Spectrum.lean passes; dropping the hints of its bounds is caught on those lines
    src = (LEAN / "JepaTorus" / "Spectrum.lean").read_text(encoding="utf-8")
    assert bare_nlinarith_hits(src) == []
    hinted_lines = [k for k, text in enumerate(src.splitlines(), 1) if re.search(r"nlinarith \[", text)]
    assert len(hinted_lines) >= 6, hinted_lines
    stripped = re.sub(r"nlinarith \[[^\]\n]*\]", "nlinarith", src)
    assert bare_nlinarith_hits(stripped) == hinted_lines


def test_no_deprecated_names_and_no_bare_nlinarith():
    offenders = []
    for p in lean_sources():
        src = p.read_text(encoding="utf-8")
        for line, name in deprecated_hits(src):
            offenders.append(f"{p.relative_to(ROOT)}:{line}: {name} is deprecated, use {DEPRECATED_NAMES[name]}")
        for line in bare_nlinarith_hits(src):
            offenders.append(f"{p.relative_to(ROOT)}:{line}: nlinarith without hints")
    assert not offenders, "\n".join(offenders)


def test_lean_project_layout():
    files = lean_sources()
    names = {p.relative_to(LEAN).as_posix() for p in files}
    assert "JepaTorus.lean" in names
    modules = sorted(p for p in names if p.startswith("JepaTorus/"))
    assert len(modules) >= 4, modules
    root = (LEAN / "JepaTorus.lean").read_text(encoding="utf-8")
    for mod in modules:
        dotted = mod[: -len(".lean")].replace("/", ".")
        assert re.search(rf"(?m)^import {re.escape(dotted)}\s*$", root), f"JepaTorus.lean does not import {dotted}"
    for p in files:
        first = strip_comments_and_strings(p.read_text(encoding="utf-8")).lstrip()
        if p.name != "JepaTorus.lean":
            assert first.startswith("import Mathlib"), f"{p} should start by importing Mathlib"


def test_no_sorry_admit_axiom_native_decide():
    offenders = []
    for p in lean_sources():
        for line, tok in forbidden_hits(p.read_text(encoding="utf-8")):
            offenders.append(f"{p.relative_to(ROOT)}:{line}: {tok}")
    assert not offenders, "forbidden tokens in Lean sources:\n" + "\n".join(offenders)


def test_toolchain_and_mathlib_tag_are_a_matched_pair():
    tc = toolchain()
    rev = mathlib_rev()
    assert re.fullmatch(r"leanprover/lean4:v\d+\.\d+\.\d+", tc), f"toolchain should be a stable release, got {tc!r}"
    assert rev in VERIFIED_PAIRS, f"mathlib rev {rev!r} is not a verified release tag {sorted(VERIFIED_PAIRS)}"
    assert VERIFIED_PAIRS[rev] == tc, f"mathlib {rev} is built with {VERIFIED_PAIRS[rev]}, but lean-toolchain says {tc}"
    manifest = LEAN / "lake-manifest.json"
    if manifest.exists():  # written by `lake update`; must agree with the lakefile
        pkgs = {p["name"]: p for p in json.loads(manifest.read_text(encoding="utf-8"))["packages"]}
        assert pkgs["mathlib"].get("inputRev") == rev
        assert pkgs["mathlib"]["rev"] == VERIFIED_TAG_COMMITS[rev]


def test_readme_lists_existing_theorems_and_build_command():
    code = all_code()
    listed = readme_theorems()
    assert len(listed) >= 25, listed
    assert len(set(listed)) == len(listed), "duplicate rows in the theorem index"
    declared = declared_names(code)
    missing = [name for name in listed if name.split(".")[-1] not in declared]
    assert not missing, f"listed in lean/README.md but not declared in lean/: {missing}"
    unlisted = sorted(declared_theorems(code) - {name.split(".")[-1] for name in listed})
    assert not unlisted, f"theorems missing from the README index: {unlisted}"
    readme = (LEAN / "README.md").read_text(encoding="utf-8")
    assert "cd lean && lake exe cache get && lake build" in readme
    assert "elan-init.sh" in readme
    assert toolchain() in readme and mathlib_rev() in readme


def _main() -> int:
    failures = 0
    for name, fn in sorted(globals().items()):
        if name.startswith("test_") and callable(fn):
            try:
                fn()
                print(f"ok   {name}")
            except AssertionError as e:  # pragma: no cover - script mode only
                failures += 1
                print(f"FAIL {name}: {e}")
    return 1 if failures else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
