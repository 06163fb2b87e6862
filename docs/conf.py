"""Sphinx configuration for the sklearn_selfdistill documentation.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
Everything works offline: no intersphinx, no remote theme assets.
"""

import os
import re
from pathlib import Path

import matplotlib
from docutils.parsers.rst import Directive, directives
from sphinx.errors import ExtensionError

import sklearn_selfdistill

matplotlib.use("Agg")

DOCS = Path(__file__).resolve().parent
BENCHMARK_RESULTS = DOCS.parent / "benchmarks" / "results"

project = "sklearn_selfdistill"
author = "sklearn_selfdistill developers"
copyright = "2026, sklearn_selfdistill developers"
release = sklearn_selfdistill.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "examples", "Thumbs.db", ".DS_Store"]
default_role = "literal"

autosummary_generate = True
autodoc_default_options = {"member-order": "groupwise"}
autodoc_typehints = "none"

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "plot_gallery": "True",
    "doc_module": ("sklearn_selfdistill",),
    "backreferences_dir": "generated/backreferences",
}

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn_selfdistill {release}"
html_theme_options = {
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    # The benchmark tables are wide: that page gives the table of contents' room to them.
    "secondary_sidebar_items": {"**": ["page-toc"], "benchmarks": []},
    "show_toc_level": 2,
}
html_sidebars = {
    "index": [],
    "install": [],
    "user_guide": [],
    "scaling": [],
    "benchmarks": [],
    "changelog": [],
}
html_static_path = ["_static"] if (DOCS / "_static").is_dir() else []
html_show_sourcelink = False
html_css_files = ["custom.css"]
# "fit", not "SelfDistillationClassifier.fit", in the page's table of contents.
toc_object_entries_show_parents = "hide"


# Benchmark tables: benchmarks/results/*.md are the one source; this directive turns a
# results file into reStructuredText at build time, so the site never drifts from them.


def _inline(text):
    """Markdown inline text (`code`, **bold**) as reStructuredText."""
    pieces = []
    if re.match(r"^\(?\w{1,3}[.)]\s", text):
        pieces.append("\\")  # "(c) plain fit" is text, not an enumerated list
    for i, part in enumerate(text.split("`")):
        if i % 2:
            pieces.append(f"\\ ``{part}``\\ " if part else "")
            continue
        bold = part.split("**")
        escaped = [re.sub(r"([\\*_|`<>\[\]])", r"\\\1", b) for b in bold]
        pieces.append(
            "".join(f"\\ **{b}**\\ " if j % 2 and b else b for j, b in enumerate(escaped))
        )
    return "".join(pieces)


def _cells(row):
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def markdown_to_rst(markdown, heading_levels):
    """The headings, paragraphs, bullet lists and pipe tables of a results file as rst."""
    lines = []
    blocks = re.split(r"\n\s*\n", markdown.strip())
    for block in blocks:
        rows = block.strip().splitlines()
        heading = re.match(r"^(#+)\s+(.*)$", rows[0])
        if heading and len(rows) == 1:
            title = _inline(heading.group(2))
            char = heading_levels[min(len(heading.group(1)), len(heading_levels)) - 1]
            lines += [title, char * len(title), ""]
        elif all(r.lstrip().startswith("|") for r in rows) and len(rows) >= 2:
            header, body = _cells(rows[0]), [_cells(r) for r in rows[2:]]
            lines += [".. list-table::", "   :header-rows: 1", "   :class: benchmark-table", ""]
            for row in [header, *body]:
                row = row + [""] * (len(header) - len(row))
                for j, cell in enumerate(row):
                    bullet = "   * - " if j == 0 else "     - "
                    lines.append((bullet + _inline(cell)).rstrip())
            lines.append("")
        elif all(re.match(r"^\s*- ", r) or r.startswith("  ") for r in rows):
            # A bullet list; indented lines continue the item above them.
            items = []
            for r in rows:
                if re.match(r"^\s*- ", r):
                    items.append(r.strip()[2:])
                else:
                    items[-1] += " " + r.strip()
            lines += [f"- {_inline(item)}" for item in items] + [""]
        else:
            lines += [_inline(" ".join(r.strip() for r in rows)), ""]
    return lines


class BenchmarkResults(Directive):
    """``.. benchmark-results:: krr_toy.md``: a results file, converted, in place."""

    required_arguments = 1
    option_spec = {"heading-levels": directives.unchanged}

    def run(self):
        path = BENCHMARK_RESULTS / self.arguments[0]
        if not path.is_file():
            raise self.error(f"benchmark-results: no file {path}")
        env = self.state.document.settings.env
        env.note_dependency(str(path))
        levels = self.options.get("heading-levels", "-~^")
        rst = markdown_to_rst(path.read_text(encoding="utf-8"), levels)
        self.state_machine.insert_input(rst, str(path))
        return []


def skip_foreign_member(app, what, name, obj, skip, options):
    """Document only this library's own members, not those inherited from scikit-learn,
    skorch or torch (their docstrings point at labels of their own documentation)."""
    if what != "class":
        return None
    function = obj.fget if isinstance(obj, property) else getattr(obj, "__func__", obj)
    module = getattr(function, "__module__", None)
    if isinstance(module, str) and not module.startswith("sklearn_selfdistill"):
        return True
    return None


def setup(app):
    if not BENCHMARK_RESULTS.is_dir():
        raise ExtensionError(f"benchmark results folder not found: {BENCHMARK_RESULTS}")
    app.add_directive("benchmark-results", BenchmarkResults)
    app.connect("autodoc-skip-member", skip_foreign_member)
    os.environ.setdefault("MPLBACKEND", "Agg")
