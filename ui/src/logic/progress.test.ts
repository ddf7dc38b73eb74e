import { describe, expect, it } from "vitest";
import { emptyProgress, isTodoEvent, progressFromValues, reduceProgress, shownProgress } from "./progress";

const events = [
  { type: "research.stage", stage: "planning", message: "planning the queries" },
  { type: "research.progress", completed_queries: 0, total_queries: 2, current_query: "a", current_depth: 1, total_depth: 1 },
  { type: "research.branch", index: 1, query: "b", status: "started", level: 1 },
  { type: "research.branch", index: 0, query: "a", status: "started", level: 1 },
  { type: "research.branch", index: 1, query: "b", status: "done", level: 1, sources: 3 },
  { type: "research.progress", completed_queries: 1, total_queries: 2, current_query: "b" },
  { type: "research.branch", index: 0, query: "a", status: "failed", level: 1, error: "timeout" },
  { type: "research.stage", stage: "writing", message: "" },
];

describe("reduceProgress", () => {
  it("folds stage, progress and branch events in order", () => {
    const p = events.reduce(reduceProgress, emptyProgress);
    expect(p.stage).toBe("writing");
    expect(p.completedQueries).toBe(1);
    expect(p.totalQueries).toBe(2);
    expect(p.currentQuery).toBe("b");
    expect(p.branches.map((b) => [b.index, b.status])).toEqual([[0, "failed"], [1, "done"]]);
    expect(p.branches[0]!.error).toBe("timeout");
    expect(p.branches[1]!.sources).toBe(3);
  });

  it("gives the same picture when a rejoin replays the stream", () => {
    const once = events.reduce(reduceProgress, emptyProgress);
    const replayed = [...events, ...events].reduce(reduceProgress, emptyProgress);
    expect(replayed).toEqual(once);
  });

  it("ignores events of other shapes without copying", () => {
    const p = reduceProgress(emptyProgress, { event: "todo", data: {} });
    expect(p).toBe(emptyProgress);
    expect(reduceProgress(emptyProgress, null)).toBe(emptyProgress);
    expect(reduceProgress(emptyProgress, "text")).toBe(emptyProgress);
  });

  it("recognises todo notifications", () => {
    expect(isTodoEvent({ event: "todo", data: { action: "filed" } })).toBe(true);
    expect(isTodoEvent({ type: "research.stage" })).toBe(false);
  });

  it("derives progress from a finished state", () => {
    const p = progressFromValues({
      stage: "done",
      total_queries: 2,
      findings: [{ index: 0, query: "a", level: 1, docs: [{}, {}] }, { index: 1, query: "b", error: "x" }],
    });
    expect(p.stage).toBe("done");
    expect(p.completedQueries).toBe(2);
    expect(p.branches.map((b) => b.status)).toEqual(["done", "failed"]);
    expect(p.branches[0]!.sources).toBe(2);
  });
});

describe("shownProgress", () => {
  it("shows the thread's final stage once the run has ended", () => {
    const p = reduceProgress(emptyProgress, { type: "research.stage", stage: "researched", message: "m" });
    expect(shownProgress(p, { stage: "done" }, false).stage).toBe("done");
    expect(shownProgress(p, { stage: "done" }, true).stage).toBe("researched");
  });
  it("skips items without a label (plain-string findings)", () => {
    const shown = shownProgress(emptyProgress, { stage: "done", findings: ["claim one", "claim two"] }, false);
    expect(shown.branches).toEqual([]);
    expect(shown.totalQueries).toBe(0);
    const p = reduceProgress(emptyProgress, { type: "research.branch", index: 0, status: "done" });
    expect(shownProgress(p, {}, true).branches).toEqual([]);
  });
});
