"""Rule modules. Each module `afyNNN_slug.py` registers exactly one rule; discovery imports them all."""
