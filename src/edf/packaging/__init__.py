"""Reproducible Lambda deployment zips (``make package`` / ``python -m edf.packaging``)."""

from edf.packaging.lambdas import (
    PackagingError,
    build_all,
    build_function,
    load_function_specs,
)

__all__ = ["PackagingError", "build_all", "build_function", "load_function_specs"]
