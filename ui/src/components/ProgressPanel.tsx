// Live progress of a research: stage, queries done of total, the current query, and each branch.

import { useApp } from "../context";
import type { Progress } from "../logic/progress";

export function ProgressPanel({ progress }: { progress: Progress }) {
  const { t } = useApp();
  if (!progress.stage && progress.totalQueries === 0) return null;
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
