"""The HTML report and the figure files (FEATURES.md H10, E6): self-contained, escaped, complete."""

from __future__ import annotations

import base64
import io
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

import ganglioside_nb as gnb
from ganglioside_nb import cli
from ganglioside_nb.core.results import AnalysisResult
from ganglioside_nb.errors import InvalidParameterError
from ganglioside_nb.plots import plot_all
from ganglioside_nb.report import figures_zip, html_report, write_report, zip_files
from ganglioside_nb.testing import TableBuilder
from tests.conftest import SAMPLE

HOSTILE = "<script>alert('x')</script>"
PNG = b"\x89PNG\r\n\x1a\n"


class _Page(HTMLParser):
    """Tags with their attributes, and the rows of each section (by its id)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.section: str | None = None
        self.rows: dict[str, int] = {}
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "section":
            self.section = dict(attrs).get("id")
        elif tag == "tr" and self.section:
            self.rows[self.section] = self.rows.get(self.section, 0) + 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def result() -> AnalysisResult:
    return gnb.analyze(SAMPLE)


@pytest.fixture(scope="module")
def page(result: AnalysisResult) -> str:
    return html_report(result)


def test_the_report_holds_every_part_of_the_analysis(result: AnalysisResult, page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    parsed = _parse(page)
    sections = [a.get("id") for t, a in parsed.tags if t == "section"]
    assert sections == ["summary", "warnings", "figures", "models", "compounds", "held-out", "o-acetylation",
                        "fragment", "input", "parameters", "provenance"]
    assert parsed.rows["compounds"] == len(result.compounds) + 1  # header + every row
    assert parsed.rows["models"] == len(result.models) + 1
    assert parsed.rows["held-out"] == len(result.validation) + 1
    assert parsed.rows["parameters"] == len(result.params.to_dict())
    cards = dict(re.findall(r"data-stat='([^']+)'><b>([^<]+)</b>", page))
    stats = result.statistics
    assert cards["rows"] == f"{stats['total_rows']:,}" and cards["valid"] == f"{stats['valid']:,}"
    assert cards["outliers"] == f"{stats['outliers']:,}" and cards["fragments"] == f"{stats['fragments']:,}"
    assert result.input_sha256 in page and result.version in page


def test_the_report_is_self_contained(result: AnalysisResult, page: str) -> None:
    parsed = _parse(page)
    images = [a["src"] for t, a in parsed.tags if t == "img"]
    assert len(images) == len(plot_all(result))
    for src in images:
        assert src is not None and src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG)
    for tag, attrs in parsed.tags:  # nothing is fetched from elsewhere
        assert tag not in ("script", "link", "iframe")
        for name in ("src", "href"):
            assert not str(attrs.get(name) or "").startswith(("http:", "https:", "//")), (tag, attrs)


def test_text_from_the_input_is_escaped() -> None:
    table = TableBuilder(seed=3).with_group("GD1", anchors=5, rows=10).build().drop(columns="truth")
    table["Note"] = HOSTILE  # a carried-through column reaches the compounds table as is
    page = html_report(gnb.analyze(table), figures={})
    assert HOSTILE not in page and "&lt;script&gt;alert(" in page
    assert not any(tag == "script" for tag, _ in _parse(page).tags)


def test_long_tables_are_cut_with_a_note(result: AnalysisResult) -> None:
    page = html_report(result, max_rows=10, figures={})
    assert _parse(page).rows["compounds"] == 11
    assert f"The first 10 of {len(result.compounds):,} compounds" in page
    with pytest.raises(InvalidParameterError, match="max_rows must be a positive integer"):
        html_report(result, max_rows=0)


def test_figures_drawn_already_are_reused(result: AnalysisResult) -> None:
    png = base64.b64decode(  # a 1x1 PNG
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
    page = html_report(result, figures={"only_this": png})
    images = [a["alt"] for t, a in _parse(page).tags if t == "img"]
    assert images == ["only_this"]


def test_figures_as_a_zip_of_svg_or_png(result: AnalysisResult) -> None:
    names = list(plot_all(result))
    svg = figures_zip(result, "svg")
    assert svg == figures_zip(result, "svg")  # same figures, same bytes
    with zipfile.ZipFile(io.BytesIO(svg)) as archive:
        assert archive.namelist() == [f"{n}.svg" for n in names]
        assert all(b"<svg" in archive.read(n)[:2000] for n in archive.namelist())
    with zipfile.ZipFile(io.BytesIO(figures_zip(result, "png"))) as archive:
        assert all(archive.read(n).startswith(PNG) for n in archive.namelist())
    with pytest.raises(InvalidParameterError, match="figure format must be one of png, svg"):
        figures_zip(result, "pdf")
    assert zip_files({"a.txt": b"1"}) == zip_files({"a.txt": b"1"})


def test_write_report_and_the_cli(result: AnalysisResult, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    written = write_report(result, tmp_path / "r.html", figures={})
    assert written.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    code = cli.main(["analyze", str(SAMPLE), "-o", str(tmp_path / "sample.html")])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "") and f"wrote {tmp_path / 'sample.html'}" in out
    page = (tmp_path / "sample.html").read_text(encoding="utf-8")
    assert _parse(page).rows["compounds"] == 324
    code = cli.main(["analyze", str(SAMPLE), "-o", str(tmp_path / "sample.txt")])
    assert code == 2 and "or .html (a report)" in capsys.readouterr().err
