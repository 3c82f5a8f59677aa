"""Dataset rows: the verl row contract and its validator (``rows``), and converters that turn public
math and code datasets into verl-format parquet (``formats``, ``pipeline``; CLI ``scripts/prepare_data.py``)."""

from srpo.data.rows import DataRowError, Row, validate_parquet, validate_parquet_files, validate_row

__all__ = ["DataRowError", "Row", "validate_parquet", "validate_parquet_files", "validate_row"]
