"""The documentation: the site builds with every internal link and reference resolved, fetches
nothing from the internet when viewed, and the README's links point at pages that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """Python-Markdown's toc anchor of a heading."""
    text = re.sub(r"[`*_]", "", heading).strip().lower()
    text = re.sub(r"[^\w\s-]", "", text)
    return re.sub(r"[\s]+", "-", text)


@pytest.mark.slow
def test_the_site_builds_strictly_and_fetches_nothing(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs extra is not installed (make install does)")
    site = tmp_path / "site"
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                             str(site)], cwd=ROOT, capture_output=True, text=True,
                            env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    pages = list(site.rglob("*.html"))
    assert (site / "index.html").is_file() and (site / "api" / "eval" / "index.html").is_file()
    # The API reference is rendered from the docstrings, not left as ":::" directives.
    api = (site / "api" / "eval" / "index.html").read_text()
    assert "standard_metrics" in api and ":::" not in api
    # Docstrings' [`name`][] cross-references become links (an unresolved one fails --strict).
    assert 'href="#gansep.eval.metrics.compute"' in api and "][]" not in api
    remote = re.compile(r"<(?:script|link|img)[^>]+(?:src|href)=\"(?:https?:)?//", re.I)
    fetched = {page.name: remote.findall(page.read_text()) for page in pages}
    assert not any(fetched.values()), {k: v for k, v in fetched.items() if v}


def test_readme_links_point_at_pages_and_headings_that_exist():
    readme = ROOT / "README.md"
    text = readme.read_text()
    assert len(text.splitlines()) <= 200
    links = [link for link in LINK.findall(text) if not link.startswith(("http", "#"))]
    assert links, "the README links into the docs"
    for link in links:
        path, _, anchor = link.partition("#")
        target = ROOT / path
        assert target.is_file(), link
        if anchor:
            headings = re.findall(r"^#+ (.+)$", target.read_text(), re.M)
            assert anchor in {slug(h) for h in headings}, link


def test_docstrings_use_markdown_cross_references_not_sphinx_roles():
    # MkDocs renders ":func:`name`" literally; [`name`][] is the form the API reference links.
    role = re.compile(r":(?:func|class|meth|mod|attr|data|exc|obj):`")
    found = [f"{path.relative_to(ROOT)}:{number}"
             for path in sorted((ROOT / "gansep").rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1) if role.search(line)]
    assert not found, found


def test_every_docs_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    missing = {page for page in pages if page not in nav}
    assert not missing, missing


TESTED = re.compile(r"<!-- tested -->\n```python\n(.*?)\n```", re.S)
DOCS = ROOT / "docs"
TESTED_PAGES = sorted(path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")
                      if TESTED.search(path.read_text()))


def test_the_extension_recipes_and_api_pages_have_tested_snippets():
    assert {"extending.md", "export.md", "training.md", "sweeps.md", "evaluation.md"} <= set(TESTED_PAGES)
    assert len(TESTED.findall((DOCS / "extending.md").read_text())) >= 6


@pytest.mark.slow
@pytest.mark.parametrize("page", TESTED_PAGES)
def test_the_tested_snippets_of_a_page_run(page, tmp_path, monkeypatch):
    """Every ``<!-- tested -->`` Python block of the page, in order, in one namespace, in a
    fresh folder that holds a small toy dataset at ``data/toy`` (1 track a split, 3 s)."""
    from gansep.data.toy import make_toy_dataset

    make_toy_dataset(tmp_path / "data" / "toy", duration=3.0,
                     tracks={"train": 1, "valid": 1, "test": 1})
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{Path(page).stem}"}
    for number, block in enumerate(TESTED.findall((DOCS / page).read_text()), 1):
        code = compile(block, f"docs/{page} (tested block {number})", "exec")
        exec(code, namespace)  # noqa: S102 - the documentation's own examples
