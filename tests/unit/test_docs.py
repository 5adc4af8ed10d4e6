"""The README and docs/ pages stay true to the code they describe.

Every relative link resolves (file and ``#anchor``); every fenced ``yaml``
block parses, and one that is a whole run config, task, variant, knowledge
or prompt_search block validates against the pydantic model the loader uses
(a search's axis values as options of a prompt variant); every model spec
under ``models:`` parses; every ``tunegate COMMAND`` names a real subcommand
of the CLI's parser with options it has, and each command line in a fenced
shell block parses with that parser. The checkers return the problems they
find, so a test can also show them failing on a broken copy.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from harness.backends.base import parse_spec
from harness.cli import _parser
from harness.config import RunSpec
from harness.errors import UsageError
from harness.rag.knowledge import KnowledgeSpec
from harness.taskspec import TaskSpec
from harness.variants.search import PromptSearchSpec
from harness.variants.spec import VariantSpec

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
SPAN = re.compile(r"`([^`]+)`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
COMMAND = re.compile(r"^tunegate\s+([a-z][a-z-]*)\b")
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def _prose(text: str) -> str:
    """The page without its fenced blocks (blank lines in their place)."""
    return FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def _fences(text: str) -> list[tuple[str, str]]:
    """(info string, body) of every fenced code block."""
    return [(m.group(1).strip(), m.group(2)) for m in FENCE.finditer(text)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a page (outside code blocks; repeats get -1, -2...)."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for m in HEADING.finditer(_prose(page.read_text(encoding="utf-8"))):
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def link_problems(page: Path) -> list[str]:
    """Relative links of a page whose file or anchor does not exist."""
    problems = []
    prose = SPAN.sub("", _prose(page.read_text(encoding="utf-8")))
    for target in LINK.findall(prose):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page
        if not dest.exists():
            problems.append(f"{page.name}: link {target!r}: {dest} does not exist")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{page.name}: link {target!r}: no heading #{anchor} in {dest.name}")
    return problems


def _model_for(doc: dict[str, Any]) -> tuple[str, Any] | None:
    """Which model a YAML block is a whole instance of, judged by its keys."""
    keys = set(doc)
    if {"tasks", "variants"} <= keys:
        return "run config", RunSpec
    if {"family", "data"} <= keys:
        return "task", TypeAdapter(TaskSpec)
    if "template" in keys and "family" not in keys:
        return "variant", VariantSpec
    if keys == {"knowledge"}:
        return "knowledge block", KnowledgeSpec
    if keys == {"prompt_search"}:
        return "prompt_search block", PromptSearchSpec
    return None


def _axis_problems(doc: dict[str, Any]) -> list[str]:
    """A prompt_search block's axis values that a prompt variant would refuse."""
    search = doc.get("prompt_search")
    axes = search.get("axes") if isinstance(search, dict) else None
    problems = []
    for key, values in (axes or {}).items():
        for value in values:
            try:
                VariantSpec.model_validate({"name": "base", "template": "t.j2", key: value})
            except ValidationError:
                problems.append(f"prompt_search.axes.{key}: {value!r} is not a valid option")
    return problems


def yaml_problems(page: Path) -> list[str]:
    """YAML blocks that do not parse, or do not validate as what their keys say they are."""
    problems = []
    for n, (info, body) in enumerate(_fences(page.read_text(encoding="utf-8")), 1):
        if info != "yaml":
            continue
        try:
            doc = yaml.safe_load(body)
        except yaml.YAMLError as exc:
            problems.append(f"{page.name} block {n}: not YAML: {exc}")
            continue
        if not isinstance(doc, dict):
            continue
        found = _model_for(doc)
        if found is not None:
            kind, model = found
            value = doc[next(iter(doc))] if kind.endswith(" block") else doc
            try:
                if isinstance(model, TypeAdapter):
                    model.validate_python(value)
                else:
                    assert issubclass(model, BaseModel)
                    model.model_validate(value)
            except ValidationError as exc:
                problems.append(f"{page.name} block {n}: not a valid {kind}: {exc}")
        problems += [f"{page.name} block {n}: {p}" for p in _axis_problems(doc)]
        for spec in doc.get("models") or []:
            try:
                parse_spec(str(spec))
            except UsageError as exc:
                problems.append(f"{page.name} block {n}: model spec {spec!r}: {exc}")
    return problems


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = _parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _mentions(text: str) -> list[str]:
    """Code that starts with ``tunegate``: inline spans, and fenced lines (continuations joined)."""
    found = [" ".join(s.split()) for s in SPAN.findall(_prose(text))]
    for _, body in _fences(text):
        found += [line.strip() for line in body.replace("\\\n", " ").splitlines()]
    return [m for m in found if COMMAND.match(m)]


def command_problems(page: Path) -> list[str]:
    """``tunegate X`` mentions naming no subcommand, or an option X does not have."""
    commands = _subcommands()
    global_options = {"--help", "--verbose", "--version"}
    problems = []
    for mention in _mentions(page.read_text(encoding="utf-8")):
        match = COMMAND.match(mention)
        assert match is not None
        name = match.group(1)
        if name not in commands:
            problems.append(f"{page.name}: `{mention}`: no command {name!r} "
                            f"(commands: {', '.join(commands)})")
            continue
        known = {o for a in commands[name]._actions for o in a.option_strings} | global_options
        problems += [f"{page.name}: `{mention}`: {name} has no option {opt}"
                     for opt in OPTION.findall(mention) if opt not in known]
    return problems


def shell_problems(page: Path) -> list[str]:
    """Command lines in fenced shell blocks that the CLI's parser rejects."""
    problems = []
    for info, body in _fences(page.read_text(encoding="utf-8")):
        if info not in ("bash", "sh", "shell", "console"):
            continue
        for line in body.replace("\\\n", " ").splitlines():
            argv = shlex.split(line, comments=True)
            if not argv or argv[0] != "tunegate":
                continue
            try:
                _parser().parse_args(argv[1:])
            except SystemExit:
                problems.append(f"{page.name}: {line.strip()!r} does not parse")
    return problems


def test_the_docs_exist_and_the_readme_links_each_page() -> None:
    # The README is the entry point: every docs/ page must be reachable from it.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert pages, "docs/ has no pages"
    assert [p for p in pages if f"(docs/{p})" not in readme] == []
    assert "(reports/sample/)" in readme


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    assert link_problems(page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_yaml_block_parses_and_validates(page: Path) -> None:
    assert yaml_problems(page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_tunegate_command_is_real(page: Path) -> None:
    assert command_problems(page) == []
    assert shell_problems(page) == []


def test_the_checkers_find_what_is_broken(tmp_path: Path) -> None:
    # A copy of the README and a docs page with one mistake of each kind: each
    # checker reports exactly that mistake.
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "tasks.md", tmp_path / "docs" / "tasks.md")
    (tmp_path / "README.md").write_text(
        "# Title\n\n## Part one\n\n"
        "[ok](docs/tasks.md) [ok anchor](#part-one) [gone](docs/missing.md) "
        "[bad anchor](docs/tasks.md#no-such-heading) [web](https://example.org/x)\n\n"
        "Run `tunegate frobnicate x` or `tunegate run CONFIG --fast`.\n\n"
        "```bash\ntunegate gate examples/gate.yaml --min-gain\n```\n\n"
        "```yaml\nname: v\nkind: prompt\ntemplate: t.j2\nshots: many\n```\n\n"
        "```yaml\nmodels: [nosuch:thing]\n```\n\n"
        "```yaml\nprompt_search:\n  axes: {shot_selection: [nearest]}\n"
        "  budget: {minutes: 5}\n```\n\n"
        "```yaml\nkey: [unclosed\n```\n", encoding="utf-8")
    page = tmp_path / "README.md"
    links = link_problems(page)
    assert len(links) == 2
    assert "docs/missing.md" in links[0] and "#no-such-heading" in links[1]
    commands = command_problems(page)
    assert len(commands) == 2
    assert "no command 'frobnicate'" in commands[0] and "no option --fast" in commands[1]
    assert len(shell_problems(page)) == 1          # --min-gain without its value
    problems = yaml_problems(page)
    assert len(problems) == 4
    assert "not a valid variant" in problems[0] and "shots" in problems[0]
    assert "nosuch" in problems[1]
    assert "shot_selection: 'nearest'" in problems[2]
    assert "not YAML" in problems[3]


def test_slug_follows_githubs_rule() -> None:
    # GitHub: lower case, drop punctuation but hyphens, spaces to hyphens.
    assert slug("The nightly benchmark: history and regressions") == \
        "the-nightly-benchmark-history-and-regressions"
    assert slug("A new base-model release: retire the adapter or retrain?") == \
        "a-new-base-model-release-retire-the-adapter-or-retrain"
    assert slug("results.json") == "resultsjson"
    assert slug("The task's metric decides") == "the-tasks-metric-decides"


def test_make_test_is_the_readme_test_command() -> None:
    # CI (.ci/run) runs `make test`, "the README's test command": the README
    # must name both commands, and the Makefile's targets must do what it says.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
    assert "runs examples/quick.yaml" in readme and "make demo-full" in readme
    assert re.search(r"^demo:.*\n\t\$\(BIN\)/tunegate run examples/quick\.yaml$", makefile,
                     re.MULTILINE)
    assert re.search(r"^demo-full:.*\n\t\$\(BIN\)/tunegate run examples/demo\.yaml$",
                     makefile, re.MULTILINE)
    assert re.search(r"^test:.*\n\t\$\(BIN\)/python -m pytest -q;", makefile, re.MULTILINE)
    assert re.search(r"^make test\b", ci, re.MULTILINE)


def test_every_command_is_documented() -> None:
    # The commands page's table has a row for each subcommand the parser has.
    page = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    rows = {m.group(1) for m in re.finditer(r"^\| `tunegate ([a-z-]+)", page, re.MULTILINE)}
    assert rows == set(_subcommands())
