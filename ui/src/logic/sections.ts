// Reduction of a multi-agent research's team events (nodes/team_events.py, `{"type": "research.team", ...}`)
// into each section's progress: which sections are being written, reviewed, revised, done, of how many.
// The root graph sends `section` started / done for every client; the researcher, reviewer and reviser run
// in the section subgraph, so their events arrive only when the run streams subgraphs (the UI asks for it for
// graphs in SUBGRAPH_PROGRESS). Without them a section goes straight from "writing" to "done".
// Each event sets a section's fields from the event alone, so a replayed stream gives the same picture.

export type SectionStatus = "writing" | "reviewing" | "revising" | "done" | "failed";

export interface SectionProgress {
  section: number;
  title: string;
  status: SectionStatus;
  /** review rounds so far (0: the first draft) */
  revision: number;
  accepted: boolean | null;
  message: string;
}

export interface Sections {
  total: number;
  items: SectionProgress[];
}

export const noSections: Sections = { total: 0, items: [] };

type Obj = Record<string, unknown>;
const int = (v: unknown): number | null => (typeof v === "number" && Number.isInteger(v) ? v : null);
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** The status a team event puts its section in (null: the event says nothing about a section's status). */
function statusOf(stage: string, status: string): SectionStatus | null {
  if (status === "failed") return "failed";
  switch (stage) {
    case "section":
      return status === "done" ? "done" : status === "started" ? "writing" : null;
    case "researcher":
      return status === "done" ? "reviewing" : "writing";
    case "reviewer":
      return status === "rejected" ? "revising" : "reviewing";
    case "reviser":
      return status === "done" ? "reviewing" : "revising";
    default:
      return null;
  }
}

/** Apply one custom event; events of other shapes leave the sections unchanged (same object). */
export function reduceSections(s: Sections, event: unknown): Sections {
  if (event == null || typeof event !== "object") return s;
  const e = event as Obj;
  if (e.type !== "research.team") return s;
  const total = int(e.sections) ?? s.total;
  const n = int(e.section);
  const status = statusOf(str(e.stage), str(e.status));
  if (n == null || n < 1 || status == null) return total === s.total ? s : { ...s, total };
  const old = s.items.find((x) => x.section === n);
  // a finished section stays finished: a late subgraph event (a replay, a duplicate) does not reopen it
  if (old && (old.status === "done" || old.status === "failed") && str(e.stage) !== "section") {
    return total === s.total ? s : { ...s, total };
  }
  const item: SectionProgress = {
    section: n,
    title: str(e.title) || old?.title || "",
    status,
    revision: int(e.revision) ?? old?.revision ?? 0,
    accepted: typeof e.accepted === "boolean" ? e.accepted : str(e.status) === "accepted" ? true : old?.accepted ?? null,
    message: str(e.message),
  };
  const items = [...s.items.filter((x) => x.section !== n), item].sort((a, b) => a.section - b.section);
  return { total: Math.max(total, n), items };
}

/** The sections a finished thread's state implies (`values.sections`, `values.outline`), for a page opened
 * after the run ended. */
export function sectionsFromValues(values: Obj | undefined): Sections {
  const done = Array.isArray(values?.sections) ? (values!.sections as Obj[]) : [];
  const outline = values?.outline as Obj | undefined;
  const planned = Array.isArray(outline?.sections) ? (outline!.sections as unknown[]).length : 0;
  const items = done
    .filter((x) => x && typeof x === "object" && int(x.index) != null)
    .map((x): SectionProgress => ({
      section: int(x.index)! + 1,
      title: str(x.title),
      status: x.error ? "failed" : "done",
      revision: int(x.revisions) ?? 0,
      accepted: typeof x.accepted === "boolean" ? x.accepted : null,
      message: str(x.error),
    }))
    .sort((a, b) => a.section - b.section);
  return { total: Math.max(planned, items.length), items };
}

/** How many sections are finished (done or failed). */
export function finishedSections(s: Sections): number {
  return s.items.filter((x) => x.status === "done" || x.status === "failed").length;
}

/** Graphs whose per-step progress runs in subgraphs: their runs are streamed with `streamSubgraphs`. */
export const SUBGRAPH_PROGRESS = new Set(["multi_agent_research"]);
