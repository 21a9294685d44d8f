"""Masking of credentials in log text, for pages and files meant to be shared.

Rally's and OpenStack's DEBUG logs carry auth tokens (``X-Auth-Token`` headers of curl
lines) and passwords (in JSON bodies, Python reprs, URLs and command lines). Each pattern
keeps the name and replaces only the value with ``***``; they run as polars expressions.
"""

from __future__ import annotations

import polars as pl

__all__ = ["MASK", "SECRET_PATTERNS", "TEXT_COLUMNS", "mask_secrets", "masked_columns"]

MASK = "***"
_KEY = r"[A-Za-z0-9_.-]*(?:password|passwd|secret|token|api_?key|credential)[A-Za-z0-9_]*"

# (regex, replacement): group 1 is what stays, the value after it is masked
SECRET_PATTERNS: list[tuple[str, str]] = [
    # headers: X-Auth-Token: gAAAA..., X-Subject-Token, Authorization: Bearer ...
    (r"(?i)((?:X-(?:Auth|Subject|Service|Storage)-(?:Token|Key))\s*[:=]\s*['\"]?)[^\s'\"]+", "${1}" + MASK),
    (r"(?i)(Authorization\s*[:=]\s*['\"]?(?:(?:Bearer|Basic|Token)\s+)?)[^\s'\",}]+", "${1}" + MASK),
    # JSON and Python reprs: "password": "s3cret", 'admin_password': 's3cret'
    (r"(?i)([\"']" + _KEY + r"[\"']\s*:\s*u?[\"'])[^\"']*", "${1}" + MASK),
    # keyword arguments and query strings: password='s3cret', ?token=abc&
    (r"(?i)(\b" + _KEY + r"\s*=\s*[\"'])[^\"']*", "${1}" + MASK),
    (r"(?i)(\b" + _KEY + r"=)[^\s&'\",;)}\]]+", "${1}" + MASK),
    # YAML-ish and free text: password: s3cret
    (r"(?i)(\b[a-z_]*password\s*:\s*)[^\s'\",}]+", "${1}" + MASK),
    # command lines: --os-password s3cret
    (r"(?i)(--[a-z-]*(?:password|token|secret)[ =])[^\s'\"]+", "${1}" + MASK),
    # URLs with credentials: mysql+pymysql://nova:s3cret@db/nova
    (r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:)[^@\s/'\"]+@", "${1}" + MASK + "@"),
]


def mask_secrets(text: pl.Expr) -> pl.Expr:
    """`text` with every credential value replaced by ``***``."""
    for pattern, replacement in SECRET_PATTERNS:
        text = text.str.replace_all(pattern, replacement)
    return text


# the store's columns that carry a log's or a report's free text (the others are ids, numbers, times)
TEXT_COLUMNS = ("message", "error", "rally_error", "args", "scenario_args", "runner_args")


def masked_columns(frame: pl.LazyFrame | pl.DataFrame) -> list[str]:
    """The text columns of `frame` that masking applies to."""
    return [c for c, t in frame.collect_schema().items() if c in TEXT_COLUMNS and t == pl.String]
