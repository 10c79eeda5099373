"""``python -m edf.packaging``: build the Lambda zips and the Glue job wheel Terraform deploys (``make package``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edf.packaging.glue_wheel import build_job_wheel
from edf.packaging.lambdas import REPO_ROOT, PackagingError, build_all, format_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edf.packaging",
        description="Build one reproducible zip per Lambda (handler + edf + its runtime dependencies) "
        "into OUT, with size_report.json. Terraform reads the zips from build/lambda by default.",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "lambda", help="output directory (default: build/lambda)")
    parser.add_argument("--only", nargs="+", metavar="FUNCTION", help="build only these functions (names from functions.json)")
    parser.add_argument("--glue-out", type=Path, default=REPO_ROOT / "build" / "glue",
                        help="where the edf wheel of the Glue feature jobs goes (default: build/glue)")
    parser.add_argument("--lock", type=Path, default=None,
                        help="lock file (requirements/dev.lock): refuse to bundle a distribution installed at another version")
    parser.add_argument("--rds-ca", type=Path, default=None,
                        help="RDS CA bundle (PEM) to ship as certs/rds-global-bundle.pem in the zips that use psycopg")
    args = parser.parse_args(argv)
    try:
        results = build_all(args.out, args.only, lock=args.lock, rds_ca=args.rds_ca)
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_report(results))
    print(f"glue job wheel: {build_job_wheel(args.glue_out)}")
    print(f"size report: {args.out / 'size_report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
