import { describe, expect, it } from "vitest";
import { citationMarkdown, linkCitations, safeUrl, sourcesOf, type Source } from "./citations";

const src = (n: number): Source => ({ n, id: `s${n}`, title: `Source ${n}`, url: "", kind: "local", excerpt: `text ${n}` });
const sources = [src(1), src(2)];

describe("linkCitations", () => {
  it("links every known source number", () => {
    expect(linkCitations("A [1] and B [2].", sources)).toEqual([
      { text: "A " },
      { cite: 1, source: sources[0] },
      { text: " and B " },
      { cite: 2, source: sources[1] },
      { text: "." },
    ]);
  });

  it("splits grouped citations and keeps unknown numbers as text", () => {
    const segs = linkCitations("x [1, 2] y [7] z [1][2]", sources);
    expect(segs.filter((s) => "cite" in s).map((s) => ("cite" in s ? s.cite : 0))).toEqual([1, 2, 1, 2]);
    expect(segs.some((s) => "text" in s && s.text.includes("[7]"))).toBe(true);
  });

  it("leaves text without citations whole", () => {
    expect(linkCitations("plain", sources)).toEqual([{ text: "plain" }]);
    expect(linkCitations("", sources)).toEqual([]);
  });

  it("turns citations into #cite links for the markdown renderer", () => {
    expect(citationMarkdown("A [1] [9]", sources)).toBe("A [\\[1\\]](#cite-1) [9]");
  });
});

describe("sources and links", () => {
  it("reads the state's sources and drops malformed ones", () => {
    expect(sourcesOf([{ n: 1, id: "a", title: "T" }, { id: "no-number" }, null, 3])).toEqual([
      { n: 1, id: "a", title: "T", url: "", kind: "", excerpt: "" },
    ]);
    expect(sourcesOf(undefined)).toEqual([]);
  });

  it("allows only http(s) links", () => {
    expect(safeUrl("https://example.org/a")).toBe("https://example.org/a");
    expect(safeUrl("javascript:alert(1)")).toBeNull();
    expect(safeUrl("data:text/html,x")).toBeNull();
    expect(safeUrl("not a url")).toBeNull();
  });
});
