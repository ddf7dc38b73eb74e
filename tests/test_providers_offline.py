"""The offline extractive engine: determinism (also across hash seeds), citations only of given sources,
query planning from key phrases, and the no-LLM notice."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from providers.offline import OFFLINE_NOTICE, asummarize, plan_queries, summarize, write_report
from providers.offline.keyphrases import keyphrases
from providers.offline.sentences import split_sentences
from providers.offline.tokens import terms
from providers.types import CitedSentence, SourceDoc
from tests.support.providers import summary_markdown

ROOT = Path(__file__).resolve().parent.parent

DOCS = [
    SourceDoc(
        id="https://ex.org/lithium",
        url="https://ex.org/lithium",
        title="Lithium mining and water",
        text=(
            "Lithium mining in South America uses large amounts of water. The brine is pumped from salt flats "
            "into evaporation ponds [3]. Local communities report falling groundwater levels near the Atacama "
            "salt flat. Dr. Smith said the effects are hard to measure.\n\nEvaporation ponds cover many square "
            "kilometres of the salt flats and can take more than a year to concentrate the brine."
        ),
    ),
    SourceDoc(
        id="kb:batteries#2",
        url="",
        title="EV batteries [draft]",
        text=(
            "Electric vehicle batteries depend on lithium, nickel and cobalt. Recycling of lithium-ion batteries "
            "could reduce the demand for newly mined lithium. Direct lithium extraction promises lower water use "
            "than evaporation ponds. Cobalt mining raises human rights concerns in the Congo."
        ),
    ),
    SourceDoc(
        id="https://ex.org/zh",
        url="https://ex.org/zh",
        title="锂矿与水",
        text="南美洲的盐湖提锂需要大量的蒸发池。锂矿开采对当地的地下水资源造成很大的影响。",
    ),
]
QUESTION = "What are the environmental impacts of lithium mining in South America?"

_CITE = re.compile(r"\[(\d+)\]")


def _body_and_sources(report: str) -> tuple[str, dict[int, str]]:
    body, _, tail = report.partition("## Sources")
    listed = {int(n): rest for n, rest in re.findall(r"^- \[(\d+)\] (.*)$", tail, re.M)}
    return body, listed


def test_summary_sentences_are_quoted_and_cited() -> None:
    summary = summarize(QUESTION, DOCS, max_sentences=4)
    assert 1 <= len(summary.sentences) <= 4
    given = {d.id: d for d in DOCS}
    for s in summary.sentences:
        assert s.source_ids and all(i in given for i in s.source_ids)
        normalised = " ".join(given[s.source_ids[0]].text.split())
        assert s.text in normalised or s.text in normalised.replace(" [3]", "")
        assert "[3]" not in s.text  # the page's own reference marks are dropped
    md = summary_markdown(summary)
    assert OFFLINE_NOTICE in md
    numbers = {int(n) for n in _CITE.findall(md.partition("## Sources")[0])}
    assert numbers == set(range(1, len(summary.sources) + 1))
    assert summary.sentences[0].text == "Lithium mining in South America uses large amounts of water."


def test_report_cites_only_given_sources() -> None:
    learnings = [
        CitedSentence(
            text="Evaporation ponds in the Atacama lose most of the pumped water to the air.",
            source_ids=["https://ex.org/lithium"],
        ),
        CitedSentence(
            text="An invented claim about lithium mining that cites an unknown page.",
            source_ids=["https://evil.example/x"],
        ),
    ]
    report = write_report(QUESTION, DOCS, learnings=learnings)
    assert report.startswith(f"# {QUESTION}\n")
    assert OFFLINE_NOTICE in report
    assert "invented claim" not in report
    assert "evil.example" not in report
    body, listed = _body_and_sources(report)
    cited = {int(n) for n in _CITE.findall(body)}
    assert cited and cited == set(listed)
    assert sorted(listed) == list(range(1, len(listed) + 1))
    labels = {d.label().replace("[", "(").replace("]", ")") for d in DOCS}
    for line in listed.values():
        assert any(label in line for label in labels)
    # Each cited sentence appears in the text of the source its number points to.
    number_to_doc = {}
    for n, line in listed.items():
        number_to_doc[n] = next(d for d in DOCS if d.label().replace("[", "(").replace("]", ")") in line)
    for sentence, marks in re.findall(r"([^\[\]]+?) ((?:\[\d+\])+)", body.split("## Summary", 1)[1]):
        text = sentence.strip().splitlines()[-1].strip()
        if not text or text.startswith("#"):
            continue
        for n in map(int, _CITE.findall(marks)):
            doc_text = " ".join(number_to_doc[n].text.split())
            learning_texts = [lr.text for lr in learnings if number_to_doc[n].id in lr.source_ids]
            assert text in doc_text.replace(" [3]", "") or text in learning_texts


def test_report_with_given_sections_and_no_sources() -> None:
    report = write_report(
        QUESTION, DOCS, sections=["Water use", "Human rights"], title="Lithium", summary_sentences=1
    )
    assert report.startswith("# Lithium\n")
    assert "## Water use" in report and "## Human rights" in report
    human = report.split("## Human rights", 1)[1].split("##", 1)[0]
    assert "Congo" in human
    empty = write_report(QUESTION, [])
    assert OFFLINE_NOTICE in empty and "## Sources" not in empty and "[1]" not in empty


def test_deterministic_in_process() -> None:
    a = (
        plan_queries(QUESTION, 5, [d.text for d in DOCS]),
        summarize(QUESTION, DOCS, 5),
        write_report(QUESTION, DOCS),
    )
    b = (
        plan_queries(QUESTION, 5, [d.text for d in DOCS]),
        summarize(QUESTION, DOCS, 5),
        write_report(QUESTION, DOCS),
    )
    assert a == b


_SCRIPT = """
import json, sys
from providers.offline import plan_queries, summarize, write_report
from providers.types import SourceDoc
docs = [SourceDoc.model_validate(d) for d in json.loads(sys.argv[1])]
q = sys.argv[2]
print(json.dumps({
    "plan": plan_queries(q, 6, [d.text for d in docs]),
    "plan_bare": plan_queries(q, 4),
    "summary": summarize(q, docs, 5).model_dump(),
    "report": write_report(q, docs),
}))
"""


def test_deterministic_across_hash_seeds() -> None:
    docs = json.dumps([d.model_dump() for d in DOCS])
    outputs = []
    for seed in ("1", "2", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", _SCRIPT, docs, QUESTION],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.append(out.stdout)
    assert outputs[0] == outputs[1] == outputs[2]
    assert json.loads(outputs[0])["plan"][0] == QUESTION


def test_plan_queries_from_question_and_context() -> None:
    bare = plan_queries(QUESTION, 4)
    assert bare[0] == QUESTION
    assert len(bare) == len({q.lower() for q in bare}) <= 4
    assert any("lithium mining" in q for q in bare[1:])
    with_context = plan_queries(QUESTION, 5, [d.text for d in DOCS])
    assert len(with_context) == 5
    assert any("evaporation ponds" in q or "salt flat" in q for q in with_context[1:])
    assert all(not re.search(r"[\u4e00-\u9fff]", q) for q in with_context)  # no mixed-script queries
    assert plan_queries(QUESTION, 1) == [QUESTION]
    assert plan_queries("  ", 3) == []
    zh = plan_queries("大型语言模型的幻觉问题如何解决", 3)
    assert zh[0] == "大型语言模型的幻觉问题如何解决" and any("幻觉问题" in q for q in zh[1:])


def test_text_primitives() -> None:
    assert split_sentences("Dr. Smith arrived. He left at 3.30 p.m. on Monday! Was it e.g. late? Yes.") == [
        "Dr. Smith arrived.",
        "He left at 3.30 p.m. on Monday!",
        "Was it e.g. late?",
        "Yes.",
    ]
    assert split_sentences("第一句。第二句！\n\n- item one\n- item two") == [
        "第一句。",
        "第二句！",
        "- item one",
        "- item two",
    ]
    assert terms("The Models of language") == ["model", "language"]
    assert terms("语言模型") == ["语言", "言模", "模型"]
    top = [
        k.phrase
        for k in keyphrases("How does retrieval augmented generation reduce hallucination in chatbots?", 3)
    ]
    assert (
        top[0] == "retrieval augmented generation reduce hallucination"
        or "retrieval augmented generation" in top[0]
    )


async def test_async_variant_matches() -> None:
    assert await asummarize(QUESTION, DOCS, 3) == summarize(QUESTION, DOCS, 3)
