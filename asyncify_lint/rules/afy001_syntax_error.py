"""
## What it does
Reports a file that cannot be parsed (a syntax error, or a file that cannot be decoded). A file
larger than `max-file-size` is reported as AFY001 too ("file too large"), and is not analysed.

## Why is this bad?
Nothing in the file can be checked or fixed. The file is left byte-identical; the other files are
still processed.

## Example
```python
def handler(:
    pass
```

## Use instead
```python
def handler():
    pass
```

## Fix safety
There is no fix: the tool never edits a file it cannot parse.
"""

from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY001",
        name="syntax-error",
        message="cannot parse: {reason}",
        doc=__doc__,
        module=__name__,
        fix_order=0,
    )
)
