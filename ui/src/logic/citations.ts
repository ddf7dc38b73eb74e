// Citation linking: a report cites its numbered sources as [n] (or [n, m] / [n][m]); the report view turns
// each number that names a known source into a link that opens the source's excerpt. Numbers with no
// source stay plain text (the server's quality check reports them as missing).

export interface Source {
  n: number;
  id: string;
  title: string;
  url: string;
  kind: string;
  excerpt: string;
}

export type Segment = { text: string } | { cite: number; source: Source };

const CITE = /\[(\d+(?:\s*,\s*\d+)*)\]/g;

/** Split `text` into plain text and citations of known `sources` (by their `n`). */
export function linkCitations(text: string, sources: readonly Source[]): Segment[] {
  const byN = new Map(sources.map((s) => [s.n, s]));
  const out: Segment[] = [];
  let last = 0;
  const pushText = (t: string) => {
    if (!t) return;
    const prev = out[out.length - 1];
    if (prev && "text" in prev) prev.text += t;
    else out.push({ text: t });
  };
  for (const m of text.matchAll(CITE)) {
    const nums = (m[1] ?? "").split(",").map((x) => Number(x.trim()));
    if (!nums.every((n) => byN.has(n))) continue;
    pushText(text.slice(last, m.index));
    nums.forEach((n, i) => {
      if (i > 0) pushText(" ");
      out.push({ cite: n, source: byN.get(n)! });
    });
    last = (m.index ?? 0) + m[0].length;
  }
  pushText(text.slice(last));
  return out;
}

/** Sources from a research state's `sources` list, dropping malformed entries. */
export function sourcesOf(raw: unknown): Source[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((r) => {
    if (r == null || typeof r !== "object") return [];
    const o = r as Record<string, unknown>;
    if (typeof o.n !== "number") return [];
    return [{
      n: o.n,
      id: String(o.id ?? ""),
      title: String(o.title ?? ""),
      url: String(o.url ?? ""),
      kind: String(o.kind ?? ""),
      excerpt: String(o.excerpt ?? ""),
    }];
  });
}

/** A link is shown as a link only when it is http(s); anything else (javascript:, data:) is plain text. */
export function safeUrl(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

/** The report's markdown with each linked citation turned into a `#cite-n` link the report view handles. */
export function citationMarkdown(text: string, sources: readonly Source[]): string {
  return linkCitations(text, sources)
    .map((s) => ("text" in s ? s.text : `[\\[${s.cite}\\]](#cite-${s.cite})`))
    .join("");
}
