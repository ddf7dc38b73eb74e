// Live progress of a research: stage, queries done of total, the current query, each branch, and a
// multi-agent team's sections (written / reviewed / revised / done, of how many).

import { useApp } from "../context";
import type { Progress } from "../logic/progress";
import { finishedSections, type Sections } from "../logic/sections";

function SectionList({ sections }: { sections: Sections }) {
  const { t } = useApp();
  const finished = finishedSections(sections);
  return (
    <div className="sections-progress">
      <label>
        {t.sectionsLabel}: <span data-testid="sections">{finished}/{sections.total}</span>{" "}
        <progress max={sections.total} value={finished} />
      </label>
      <ol className="section-items">
        {sections.items.map((s) => (
          <li key={s.section} value={s.section} className={`section-${s.status}`} data-status={s.status}>
            {s.title || `#${s.section}`} <small>({t.sectionStatus[s.status]}
              {s.revision > 0 ? `, ${t.revisions(s.revision)}` : ""}{s.message ? `: ${s.message}` : ""})</small>
          </li>
        ))}
      </ol>
    </div>
  );
}

export function ProgressPanel({ progress }: { progress: Progress }) {
  const { t } = useApp();
  if (!progress.stage && progress.totalQueries === 0 && progress.sections.total === 0) return null;
  return (
    <section className="progress" aria-label="progress">
      <div><strong>{t.stage}:</strong> <span data-testid="stage">{progress.stage ?? "—"}</span> {progress.message && <em>{progress.message}</em>}</div>
      {progress.totalQueries > 0 && (
        <div>
          <label>
            {t.queries}: <span data-testid="queries">{progress.completedQueries}/{progress.totalQueries}</span>{" "}
            <progress max={progress.totalQueries} value={progress.completedQueries} />
          </label>
          {progress.totalDepth > 1 && <span> · depth {progress.currentDepth}/{progress.totalDepth}</span>}
        </div>
      )}
      {progress.currentQuery && !["done", "failed", "rejected"].includes(progress.stage ?? "") && <div><strong>{t.currentQuery}:</strong> {progress.currentQuery}</div>}
      {progress.sections.total > 0 && <SectionList sections={progress.sections} />}
      {progress.branches.length > 0 && (
        <ol className="branches">
          {progress.branches.map((b) => (
            <li key={`${b.level}-${b.index}`} className={`branch-${b.status}`}>
              {b.query} <small>({b.status}{b.sources ? `, ${b.sources} sources` : ""})</small>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
