"""Sphinx configuration for the sklearn_selfdistill documentation.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
Everything works offline, when building and when reading: no intersphinx, no remote
theme assets, no MathJax (formulas are images drawn by matplotlib at build time).
"""

import os
from pathlib import Path

import matplotlib
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
    # Formulas are drawn into images by matplotlib's mathtext when the site is built,
    # so that a page needs no MathJax from a CDN to show them (``.. mathmpl::``).
    "matplotlib.sphinxext.mathmpl",
    # The benchmark tables are the results files themselves, included as Markdown.
    "myst_parser",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
mathmpl_fontsize = 12.0
mathmpl_srcset = ["2x"]

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
    # Its page of execution times loads DataTables from a CDN; the site reads offline.
    "write_computation_times": False,
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
    "quickstart": [],
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
    app.connect("autodoc-skip-member", skip_foreign_member)
    os.environ.setdefault("MPLBACKEND", "Agg")
