// The research report: markdown with clickable citations that open the cited source's excerpt, the numbered
// source list, export buttons (md, pdf, docx), cost and duration.

import { useState } from "react";
import { clew } from "../api/clew";
import { useApp } from "../context";
import { citationMarkdown, safeUrl, sourcesOf } from "../logic/citations";
import { reportBody } from "../logic/report";
import { Dialog } from "./Dialog";
import { Markdown } from "./Markdown";

export function ReportView(props: { threadId: string; values: Record<string, unknown> }) {
  const { t } = useApp();
  const report = typeof props.values.report === "string" ? props.values.report : "";
  const sources = sourcesOf(props.values.sources);
  const [open, setOpen] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (!report) return null;
  const cost = props.values.cost as { usd?: number; calls?: number; offline?: boolean } | undefined;
  const duration = typeof props.values.duration === "number" ? props.values.duration : null;
  const source = sources.find((s) => s.n === open);
  const download = (fmt: "md" | "pdf" | "docx") =>
    clew.exportReport(props.threadId, fmt).catch((e: Error) => setError(e.message));
  return (
    <section className="report" aria-label={t.report}>
      <h2>{t.report}</h2>
      <Markdown text={citationMarkdown(reportBody(report, props.values.question), sources)} onCite={setOpen} />
      {sources.length > 0 && !/^#{1,6}\s*(sources|references|来源|参考)/im.test(report) && (
        <>
          <h3>{t.sources}</h3>
          <ol className="sources">
            {sources.map((s) => (
              <li key={s.n} value={s.n}>
                <button type="button" className="link" onClick={() => setOpen(s.n)}>{s.title || s.id}</button>
              </li>
            ))}
          </ol>
        </>
      )}
      <div className="report-meta">
        <span>{t.export}:</span>
        {(["md", "pdf", "docx"] as const).map((f) => (
          <button key={f} type="button" onClick={() => download(f)}>{f.toUpperCase()}</button>
        ))}
        {cost && <span>{t.cost}: ${(cost.usd ?? 0).toFixed(4)}{cost.offline ? " (offline)" : ""}</span>}
        {duration != null && <span>{t.duration}: {duration.toFixed(1)} s</span>}
        {error && <span className="error" role="alert">{error}</span>}
      </div>
      {source && (
        <Dialog title={`[${source.n}] ${source.title || source.id}`} onClose={() => setOpen(null)}>
          <blockquote className="excerpt">{source.excerpt}</blockquote>
          {safeUrl(source.url) && <p><a href={safeUrl(source.url)!} target="_blank" rel="noreferrer noopener">{source.url}</a></p>}
          <div className="actions"><button type="button" onClick={() => setOpen(null)} autoFocus>{t.close}</button></div>
        </Dialog>
      )}
    </section>
  );
}
