"""threadlog: make the logs of concurrent Python programs readable again.

It reads logs written by Python's `logging` (oslo.log and Rally included), works out which
lines belong to which real thread and which Rally iteration, and keeps the result as
Parquet tables in a small store.
"""

from threadlog.errors import ExitCode, ThreadlogError

__version__ = "0.1.0"

__all__ = ["ExitCode", "ThreadlogError", "__version__"]
