"""``cookbook bench``: training step time per recipe and backend, each backend in its own process.

``measure`` times one recipe in the process it runs in (the backend chosen before Keras was
imported); ``run`` starts one such process per backend and writes the table (Markdown and CSV).
"""
