"""Small text samples shipped with neurona (a package so that its JSON files are installed with it).

``words_sample.json`` and ``fortunes_sample.json`` are read by ``neurona.text.words_sample()`` and
``neurona.text.fortunes_sample()``; ``make_samples.py`` regenerates them from the Debian packages.
"""
