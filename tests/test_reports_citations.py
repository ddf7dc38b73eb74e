"""Citation integrity: every [n] in a report must have a stored source; links, code and the list don't count."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from reports.citations import CitationCheck, check_citations, find_citations, source_numbers

SOURCES = [
    {"n": 1, "url": "https://a.example/one", "title": "One"},
    {"n": 2, "url": "https://b.example/two", "title": "Two"},
    {"n": 3, "url": "https://c.example/three", "title": "Three"},
]

GOOD = """# Findings

Solar grew fast [1]. Costs fell [2, 3], see also [the IEA](https://iea.org/report) and
[1](https://a.example/one) style links.

| Claim | Evidence |
|-------|----------|
| Growth | [1] |

## Sources

1. [One](https://a.example/one)
2. [Two](https://b.example/two)
3. [Three](https://c.example/three)
"""


def test_good_report_passes() -> None:
    check = check_citations(GOOD, SOURCES)
    assert check == CitationCheck(ok=True, cited=[1, 2, 3], missing=[], uncited_sources=[])


def test_fabricated_citation_fails() -> None:
    report = GOOD.replace("Costs fell [2, 3]", "Costs fell [2, 3][7]")
    check = check_citations(report, SOURCES)
    assert not check.ok
    assert check.missing == [7]
    assert check.cited == [1, 2, 3, 7]


def test_markdown_links_and_code_are_not_citations() -> None:
    report = (
        "See [9](https://x.example) and [docs](https://d.example) and ![4](img.png).\n\n"
        "Inline `[8]` code and:\n\n```\nitems[5] = 1\n[6]\n```\n\n    [7] indented code\n"
    )
    assert find_citations(report) == []
    assert check_citations(report, []).ok


def test_supported_citation_forms() -> None:
    report = "A [1]. B [2,3]. C [4; 5]. D [6-8]. E [9–10]. F [11][12]. G [ 13 , 14-15 ]. H **[16]**."
    assert find_citations(report) == list(range(1, 17))


def test_things_that_look_like_citations_but_are_not() -> None:
    report = (
        "In [2024] and [2019-2024] prices fell; [3-1] is backwards; [1-500] is too wide; [^4] is a footnote; "
        "[a] and [] are text.\n\n[5]: https://definition.example\n"
    )
    assert find_citations(report) == []


def test_sources_section_is_not_scanned() -> None:
    report = "Text [1].\n\n## References\n\n[1] One\n[9] Nine\n\n## Appendix\n\nMore [2].\n"
    assert find_citations(report) == [1, 2]
    bare_label = "Text [1].\n\n**Sources:**\n\n1. [9] Nine\n2. [10] Ten\n"
    assert find_citations(bare_label) == [1]
    chinese = "正文 [1]。\n\n## 参考文献\n\n[8] 八\n"
    assert find_citations(chinese) == [1]
    # A sub-heading inside the sources section stays in it; a heading at its level ends it.
    nested = "# R\n\nA [1].\n\n## Sources\n\n### Web\n\n[7] x\n\n## Notes\n\nB [2].\n"
    assert find_citations(nested) == [1, 2]


def test_uncited_sources_are_reported_but_do_not_fail() -> None:
    check = check_citations("Only [2].", SOURCES)
    assert check.ok
    assert check.uncited_sources == [1, 3]


def test_source_shapes() -> None:
    class Model(BaseModel):
        n: int
        url: str

    @dataclass
    class Obj:
        index: int

    assert source_numbers([Model(n=4, url="u")]) == {4}
    assert source_numbers([Obj(index=5)]) == {5}
    assert source_numbers([1, 2]) == {1, 2}
    assert source_numbers({"3": {"url": "u"}, 4: {}}) == {3, 4}
    assert source_numbers([{"url": "a"}, {"url": "b"}]) == {1, 2}  # no number: 1-based position
    assert source_numbers([{"index": 7}]) == {7}
    assert not check_citations("Claim [1].", []).ok
