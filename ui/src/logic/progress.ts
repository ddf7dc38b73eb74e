// Reduction of a research's custom stream events (nodes/progress.py) into what the progress panel shows.
// Events are informative only: the reducer is idempotent per event so a replayed stream (a rejoin from
// Last-Event-ID -1) gives the same picture as the live one. A multi-agent team's sections: logic/sections.ts.

import { noSections, reduceSections, sectionsFromValues, type Sections } from "./sections";

export interface BranchProgress {
  index: number;
  level: number;
  query: string;
  status: "started" | "done" | "failed";
  sources: number;
  error?: string | null;
}

export interface Progress {
  stage: string | null;
  message: string;
  completedQueries: number;
  totalQueries: number;
  currentQuery: string | null;
  currentDepth: number;
  totalDepth: number;
  branches: BranchProgress[];
  sections: Sections;
}

export const emptyProgress: Progress = {
  stage: null,
  message: "",
  completedQueries: 0,
  totalQueries: 0,
  currentQuery: null,
  currentDepth: 0,
  totalDepth: 0,
  branches: [],
  sections: noSections,
};

type Obj = Record<string, unknown>;
const num = (v: unknown, d = 0): number => (typeof v === "number" && Number.isFinite(v) ? v : d);
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

/** Apply one `custom` event to the progress; events of other shapes leave it unchanged (same object). */
export function reduceProgress(p: Progress, event: unknown): Progress {
  if (event == null || typeof event !== "object") return p;
  const e = event as Obj;
  switch (e.type) {
    case "research.stage":
      return { ...p, stage: str(e.stage), message: str(e.message) ?? "" };
    case "research.progress":
      return {
        ...p,
        completedQueries: num(e.completed_queries, p.completedQueries),
        totalQueries: num(e.total_queries, p.totalQueries),
        currentQuery: str(e.current_query) ?? p.currentQuery,
        currentDepth: num(e.current_depth, p.currentDepth),
        totalDepth: num(e.total_depth, p.totalDepth),
      };
    case "research.branch": {
      const b: BranchProgress = {
        index: num(e.index),
        level: num(e.level, 1),
        query: str(e.query) ?? "",
        status: e.status === "done" || e.status === "failed" ? e.status : "started",
        sources: num(e.sources),
        error: str(e.error),
      };
      const others = p.branches.filter((x) => !(x.index === b.index && x.level === b.level));
      const branches = [...others, b].sort((x, y) => x.level - y.level || x.index - y.index);
      return { ...p, branches };
    }
    case "research.team": {
      const sections = reduceSections(p.sections, e);
      return sections === p.sections ? p : { ...p, sections };
    }
    default:
      return p;
  }
}

/** Is this custom event a todo notification (nodes/todos.py `{"event": "todo", ...}`)? */
export function isTodoEvent(event: unknown): boolean {
  return event != null && typeof event === "object" && (event as Obj).event === "todo";
}

/** The progress the thread's state implies when no event was seen (a page opened after the run ended). */
export function progressFromValues(values: Obj | undefined): Progress {
  if (!values) return emptyProgress;
  const findings = Array.isArray(values.findings) ? (values.findings as Obj[]) : [];
  const labelled = findings.filter((f) => f && typeof f === "object" && str(f.query));
  return {
    ...emptyProgress,
    stage: str(values.stage),
    completedQueries: labelled.length,
    totalQueries: num(values.total_queries, labelled.length),
    // only findings with a query are branches (hitl_demo's findings are plain strings: no item to show)
    branches: findings.filter((f) => f && typeof f === "object" && str(f.query)).map((f) => ({
      index: num(f.index),
      level: num(f.level, 1),
      query: str(f.query) ?? "",
      status: f.error ? "failed" : "done",
      sources: Array.isArray(f.docs) ? f.docs.length : 0,
      error: str(f.error),
    })),
    sections: sectionsFromValues(values),
  };
}

/**
 * What the progress panel shows: the streamed events while a run streams; once it has ended, the thread's
 * own stage (values.stage) wins over the last stage event (a finished content_pipeline's last research event
 * says "researched", its state "done"); with no event at all, what the values imply. Branches without a
 * label are never shown.
 */
export function shownProgress(events: Progress, values: Obj | undefined, running: boolean): Progress {
  const base = events.stage || events.totalQueries || events.sections.total ? events : progressFromValues(values);
  const finalStage = !running && values ? str(values.stage) : null;
  const stage = finalStage ?? base.stage;
  return { ...base, stage, message: stage === base.stage ? base.message : "", branches: base.branches.filter((b) => b.query.trim()) };
}
