"""CSV and Parquet files as Arrow columns: parsed in C, typed by ``dnn_lab.data.tabular``.

pyarrow parses the file on every core and infers each column's type: a numeric column
arrives as one float or integer buffer, text as one string buffer, never one Python object
per cell. Reading pyarrow directly, not through ``pandas.read_csv(engine="pyarrow")``,
saves the DataFrame copy and keeps the types Arrow found.

A CSV's messages name the file line: a data row's line is found only when a message
needs one, by reading the file again with Python's ``csv`` module (``FileLines``); a file
pyarrow cannot parse is read the same way to say where and why (``diagnose``).
"""

from __future__ import annotations

import csv
import gzip
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dnn_lab.data.files import regular_file
from dnn_lab.data.memory import check_memory, size_text
from dnn_lab.errors import DataError, did_you_mean

SAMPLE_BYTES = 1 << 20  # the head of a CSV read to find its separator and row size
# Arrow's float64 columns, the float32 table, its training split and the scaled copy
BYTES_PER_CELL_AT_PEAK = 8 + 4 + 4 + 4
BOM = b"\xef\xbb\xbf"
TOO_BIG_HINT = "use a sample of its rows, or a machine with more memory"


@dataclass(kw_only=True)
class TableRead:
    """A table file's feature columns (Arrow), its target, and where each row came from."""

    columns: Columns  # the feature columns, in file order
    target: np.ndarray  # float64 (NaN when empty) or stripped text
    names: list[str]
    lines: FileLines | None  # a CSV's file lines; None for Parquet (rows are samples)


class Columns:
    """Feature columns handed out one at a time, then let go.

    The float32 matrix fills as the Arrow memory shrinks: a CSV's parsed columns are
    released one by one, a Parquet file's are read one by one.
    """

    def __init__(self, rows: int, count: int, read):
        self.rows, self.count, self._read = rows, count, read

    @classmethod
    def of_table(cls, table) -> Columns:
        held = list(table.columns)

        def take(index: int):
            column, held[index] = held[index], None
            return column

        return cls(table.num_rows, len(held), take)

    def take(self, index: int):
        """Column ``index`` as a pyarrow ChunkedArray; each is taken once."""
        return self._read(index)

    def rows_at(self, rows: np.ndarray) -> Columns:
        """The same columns cut to the rows at ``rows`` (a smoke run's subset), still lazy."""
        import pyarrow as pa

        indices = pa.array(np.asarray(rows, dtype=np.int64))
        return Columns(len(indices), self.count, lambda index: self._read(index).take(indices))


class FileLines:
    """The file line of each data row of a CSV, found only when a message asks for one.

    ``rows`` holds each remaining sample's data-row number, so leaving rows out
    (``keep``) costs an index array, not a scan of the file.
    """

    def __init__(self, path: Path, delimiter: str, rows: np.ndarray, known=None):
        self.path, self.delimiter, self.rows = path, delimiter, rows
        self._known: list[list[int]] = known if known is not None else []

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> int:
        if not self._known:
            numbers = [line for line, _ in csv_rows(self.path, self.delimiter)][1:]
            self._known.append(numbers)
        return self._known[0][int(self.rows[index])]

    def keep(self, mask: np.ndarray) -> FileLines:
        """The lines of the rows ``mask`` keeps."""
        return FileLines(self.path, self.delimiter, self.rows[mask], self._known)


# --------------------------------------------------------------------------- CSV


def read_csv(path: Path, target: str | None) -> TableRead:
    """Parse a CSV (plain or gzip, comma, semicolon or tab, UTF-8 with or without a BOM)."""
    import pyarrow as pa

    status = regular_file(path)
    gzipped, sample, consumed = _head(path)
    header_line = _first_line(sample)
    try:
        header_text = header_line.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError:
        diagnose(path, ",")
        raise  # pragma: no cover - diagnose raises for a byte that is not UTF-8
    delimiter = _delimiter(header_text)
    header = [h.strip() for h in next(csv.reader([header_text], delimiter=delimiter), [])]
    if not header or not sample.strip(b"\r\n" + BOM).count(b"\n"):
        raise DataError(f"{path}: needs a header row and at least one data row")
    _check_names(path, header, target)

    rows_guess = _rows_estimate(sample, consumed, status.st_size, gzipped, len(header_line))
    _check_fits(path, rows_guess, len(header), "about ")

    try:
        table = _arrow_csv(path, gzipped, delimiter)
    except (pa.ArrowInvalid, OSError, EOFError) as exc:
        diagnose(path, delimiter)
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None
    if any(
        pa.types.is_binary(kind) or pa.types.is_large_binary(kind) for kind in table.schema.types
    ):
        diagnose(path, delimiter)  # Arrow keeps text that is not UTF-8 as bytes: say where
        raise DataError(f"{path}: not UTF-8 text; save it as UTF-8")
    table = table.rename_columns(header)
    table = _without_blank_rows(table)
    if table.num_rows == 0:
        raise DataError(f"{path}: needs a header row and at least one data row")
    lines = FileLines(path, delimiter, np.arange(table.num_rows))
    index = header.index(target)
    features = Columns.of_table(table.remove_column(index))
    return _split_target(table.column(index), features, header, target, lines)


def _arrow_csv(path: Path, gzipped: bool, delimiter: str):
    """The whole file as an Arrow table, its column types inferred.

    Streamed block by block first: half the peak memory of reading it whole. The stream
    infers each column's type from the first block; a column whose later values do not
    fit it (numbers, then text) is read again whole, which infers from every value.
    """
    import pyarrow as pa
    from pyarrow import csv as arrow_csv

    options = {
        "parse_options": arrow_csv.ParseOptions(
            delimiter=delimiter, newlines_in_values=True, invalid_row_handler=_skip_blank
        ),
        "convert_options": arrow_csv.ConvertOptions(
            null_values=[""],  # other spellings of "no value" are read as text
            strings_can_be_null=False,
            true_values=[],  # true/false stay text: a category, as they always were
            false_values=[],
            timestamp_parsers=[],
        ),
    }
    compression = "gzip" if gzipped else None
    with pa.input_stream(str(path), compression=compression) as source:
        try:
            return arrow_csv.open_csv(source, **options).read_all()
        except pa.ArrowInvalid as exc:
            if "conversion error" not in str(exc):
                raise
    with pa.input_stream(str(path), compression=compression) as source:
        return arrow_csv.read_csv(source, **options)


def _skip_blank(row) -> str:
    """A row of separators alone (``,,``) is blank, as Python's csv module reads it."""
    return "skip" if not (row.text or "").strip(" \t,;\r\n") else "error"


def _head(path: Path) -> tuple[bool, bytes, int]:
    """(gzipped, the first bytes of the text, the file bytes they took) without reading it all."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
            handle.seek(0)
            if magic[:4] == b"PK\x03\x04":
                raise DataError(
                    f"{path}: a zip archive (an .npz?), not CSV text; set data.dataset: npz"
                )
            if magic[:2] != b"\x1f\x8b":
                sample = handle.read(SAMPLE_BYTES)
                return False, sample, len(sample)
            with gzip.GzipFile(fileobj=handle) as unzipped:
                sample = unzipped.read(SAMPLE_BYTES)
                return True, sample, max(1, handle.tell())
    except (OSError, EOFError) as exc:
        if isinstance(exc, (gzip.BadGzipFile, EOFError)):
            raise DataError(f"{path}: a damaged gzip file ({exc})") from None
        raise DataError(f"{path}: cannot read ({exc})") from None


def _first_line(sample: bytes) -> bytes:
    for line in sample.splitlines():
        if line.strip(b" \t,;" + BOM):
            return line
    return b""


def _delimiter(header: str) -> str:
    """The field separator the header line uses most: comma, semicolon or tab."""
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] > 0 else ","


def _rows_estimate(sample: bytes, consumed: int, size: int, gzipped: bool, header: int) -> int:
    """Data rows the file holds, from the mean length of the sample's lines."""
    lines = max(1, sample.count(b"\n"))
    if len(sample) < SAMPLE_BYTES:  # the whole file was read
        return lines
    text_size = size * len(sample) / consumed if gzipped else size
    return int((text_size - header) / (len(sample) - header) * lines)


def _check_fits(path: Path, rows: int, columns: int, about: str) -> None:
    float32 = rows * columns * 4
    check_memory(
        rows * columns * BYTES_PER_CELL_AT_PEAK,
        f"{path}: {about}{rows:,} rows x {columns} columns, {size_text(float32)} as float32; "
        "reading, splitting and scaling it",
        TOO_BIG_HINT,
    )


def _without_blank_rows(table):
    """Rows whose every cell is empty are no samples (a trailing ',,,', say)."""
    import pyarrow.compute as pc

    blank = None
    for column in table.columns:
        if column.null_count == 0 and not _is_text(column.type):
            return table  # a column with a value in every row: no row is blank
        empty = (
            pc.equal(pc.utf8_trim_whitespace(column), "")
            if _is_text(column.type)
            else pc.is_null(column)
        )
        blank = empty if blank is None else pc.and_(blank, empty)
    if blank is None or not pc.any(blank).as_py():
        return table
    return table.filter(pc.invert(blank))


def _is_text(kind) -> bool:
    import pyarrow as pa

    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def csv_rows(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each non-blank row, as Python's csv module reads them.

    Streams the file, so the slow path that finds a line costs no memory; a byte that
    is not UTF-8 and a damaged gzip stream are the user's errors, said with their line.
    """
    reader = csv.reader(_text_lines(path), delimiter=delimiter)
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield reader.line_num, row
    except csv.Error as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None


def _text_lines(path: Path) -> Iterator[str]:
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rb") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    yield (line.removeprefix(BOM) if number == 1 else line).decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise DataError(
                        f"{path}: not UTF-8 text: byte 0x{line[exc.start]:02x} on line {number} "
                        "(a Latin-1 or Windows-1252 file?); save it as UTF-8"
                    ) from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: a damaged gzip file ({exc})") from None


def diagnose(path: Path, delimiter: str) -> None:
    """Say what is wrong with a CSV that pyarrow would not parse, with its line."""
    rows = csv_rows(path, delimiter)
    _, header = next(rows, (0, []))
    for line, row in rows:
        if len(row) != len(header):
            raise DataError(
                f"{path}: line {line} has {len(row)} fields, the header has {len(header)}"
            )


# --------------------------------------------------------------------------- Parquet


def read_parquet(path: Path, target: str | None) -> TableRead:
    """A Parquet file's columns, sized from its metadata before any is read."""
    import pyarrow as pa
    from pyarrow import parquet

    regular_file(path)
    try:
        handle = parquet.ParquetFile(path)
        # pandas writes a DataFrame's index as a column: row labels, not data
        names = [
            str(n).strip() for n in handle.schema_arrow.names if not PANDAS_INDEX.match(str(n))
        ]
        rows = handle.metadata.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    _check_names(path, names, target)
    if rows == 0:
        raise DataError(f"{path}: the Parquet file holds no rows")
    _check_fits(path, rows, len(names), "")
    stored = [handle.schema_arrow.names[i] for i in _kept(handle)]
    by_name = dict(zip(names, stored, strict=True))

    def read(name: str):
        try:
            return handle.read(columns=[by_name[name]]).column(0)
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from None

    others = [name for name in names if name != target]
    features = Columns(rows, len(others), lambda index: read(others[index]))
    return _split_target(read(target), features, names, target, None)


PANDAS_INDEX = re.compile(r"^__index_level_\d+__$")


def _kept(handle) -> list[int]:
    return [i for i, n in enumerate(handle.schema_arrow.names) if not PANDAS_INDEX.match(str(n))]


# --------------------------------------------------------------------------- both


def _check_names(path: Path, names: list[str], target: str | None) -> None:
    """Each column once, and the target among them."""
    twice = [name for name, count in Counter(names).items() if count > 1]
    if twice:
        places = "; ".join(
            f"{name!r} is column {', '.join(str(i + 1) for i, n in enumerate(names) if n == name)}"
            for name in twice
        )
        raise DataError(
            f"{path}: duplicate column name(s): {places}. Each column must have its own name "
            "(a repeated target would be trained on as a feature); rename or remove the copies"
        )
    if target is None:
        raise DataError(
            f"{path}: set data.target to the label column (columns: {', '.join(names)})"
        )
    if target not in names:
        raise DataError(
            f"{path}: no column {target!r}"
            + did_you_mean(target, names)
            + f" Columns: {', '.join(names)}"
        )


def _split_target(
    column, features: Columns, names: list[str], target: str, lines: FileLines | None
) -> TableRead:
    """The target as numbers or stripped text; the features stay Arrow columns."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        values = float_values(column)  # a null is NaN: a missing label
    else:
        text = pc.fill_null(pc.utf8_trim_whitespace(column.cast(pa.string())), "")
        # as fixed-width numpy text, through the distinct values: no object per row
        encoded = pc.dictionary_encode(text).combine_chunks()
        distinct = np.asarray(encoded.dictionary.to_pylist(), dtype=str)
        values = distinct[encoded.indices.to_numpy()] if len(distinct) else distinct
    feature_names = [n for n in names if n != target]
    return TableRead(columns=features, target=values, names=feature_names, lines=lines)


def float_values(column) -> np.ndarray:
    """A numeric Arrow column as float64, NaN where it has no value.

    Read from the column's buffers: pyarrow's own ``to_numpy`` imports pandas (a second
    of start-up on a busy machine) to handle the nulls.
    """
    import pyarrow as pa

    chunks = []
    for chunk in column.cast(pa.float64()).chunks:
        validity, data = chunk.buffers()[:2]
        end = chunk.offset + len(chunk)
        values = np.frombuffer(data, dtype=np.float64, count=end)[chunk.offset :].copy()
        if chunk.null_count:
            bits = np.frombuffer(validity, dtype=np.uint8)
            valid = np.unpackbits(bits, bitorder="little", count=end)[chunk.offset :]
            values[valid == 0] = np.nan
        chunks.append(values)
    return np.concatenate(chunks) if chunks else np.empty(0)


def as_arrow(cells: np.ndarray):
    """Text cells (a test's, or anything already in memory) as Arrow string columns."""
    import pyarrow as pa

    cells = np.asarray(cells).astype(str)
    table = pa.table({f"{i}": pa.array(cells[:, i]) for i in range(cells.shape[1])})
    return Columns.of_table(table)
