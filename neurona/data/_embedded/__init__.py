"""Data files shipped inside neurona (see make_subset.py for how they were made)."""
