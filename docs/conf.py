"""Sphinx configuration of the cookbook's site. Build it with ``python docs/build.py``: that script
writes the generated pages (one per recipe, the notebooks, the diagrams) beside a copy of these
sources and runs Sphinx on the copy, warnings as errors. Nothing is executed here: the notebooks
are rendered with the outputs they were stored with."""

project = "keras-cookbook"
author = "the keras-cookbook authors"
copyright = "2026, the keras-cookbook authors"

extensions = ["myst_nb"]  # MyST markdown and notebooks (as JAX's documentation is built)
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3  # `page.md#a-heading` links, as a code host writes them
nb_execution_mode = "off"  # the notebooks are stored executed; the site never runs them
nb_merge_streams = True

exclude_patterns = ["_build", "build.py", "check_site.py", "**/.ipynb_checkpoints"]
suppress_warnings = ["myst.header"]  # the reference pages open with their own level-1 title

html_theme = "furo"
html_title = "keras-cookbook"
html_static_path = ["_static"]
html_css_files = ["cookbook.css"]
html_show_sourcelink = False
html_favicon = "_static/favicon.svg"  # else each browser asks for /favicon.ico and logs a 404
