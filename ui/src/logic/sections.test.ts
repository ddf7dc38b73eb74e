import { describe, expect, it } from "vitest";
import { emptyProgress, reduceProgress, shownProgress } from "./progress";
import { finishedSections, noSections, reduceSections, sectionsFromValues } from "./sections";

const team = (stage: string, status: string, extra: Record<string, unknown> = {}) => ({
  type: "research.team", stage, status, section: null, sections: null, title: null, revision: null, message: "", ...extra,
});
const s = (n: number, title: string) => ({ section: n, sections: 2, title });

// a two-section team as a run streaming subgraphs sees it: root `section` events and the subgraph's roles
const events = [
  team("editor", "done", { sections: 2, revision: 0 }),
  team("section", "started", { ...s(1, "Lamp"), revision: 0 }),
  team("section", "started", { ...s(2, "Keepers"), revision: 0 }),
  team("researcher", "started", { ...s(1, "Lamp"), revision: 0 }),
  team("researcher", "done", { ...s(1, "Lamp"), revision: 0, sources: 3 }),
  team("reviewer", "started", { ...s(1, "Lamp"), revision: 0 }),
  team("reviewer", "rejected", { ...s(1, "Lamp"), revision: 0, notes: ["cite more"] }),
  team("reviser", "started", { ...s(1, "Lamp"), revision: 1 }),
  team("researcher", "started", { ...s(2, "Keepers"), revision: 0 }),
];

describe("reduceSections", () => {
  it("follows each section through writing, review and revision", () => {
    const p = events.reduce(reduceSections, noSections);
    expect(p.total).toBe(2);
    expect(p.items.map((x) => [x.section, x.title, x.status, x.revision])).toEqual([
      [1, "Lamp", "revising", 1],
      [2, "Keepers", "writing", 0],
    ]);
    expect(finishedSections(p)).toBe(0);
  });

  it("counts finished sections and keeps their revisions and verdict", () => {
    const more = [
      ...events,
      team("reviser", "done", { ...s(1, "Lamp"), revision: 1 }),
      team("reviewer", "accepted", { ...s(1, "Lamp"), revision: 1 }),
      team("section", "done", { ...s(1, "Lamp"), revision: 1, accepted: true }),
      team("section", "failed", { ...s(2, "Keepers"), revision: 0, message: "no sources" }),
    ];
    const p = more.reduce(reduceSections, noSections);
    expect(p.items.map((x) => x.status)).toEqual(["done", "failed"]);
    expect(p.items[0]).toMatchObject({ revision: 1, accepted: true });
    expect(p.items[1]!.message).toBe("no sources");
    expect(finishedSections(p)).toBe(2);
    // a late subgraph event does not reopen a finished section
    expect(reduceSections(p, team("reviewer", "started", { ...s(1, "Lamp"), revision: 1 })).items[0]!.status).toBe("done");
  });

  it("works from the root's events alone (a run streamed without subgraphs)", () => {
    const root = [
      team("section", "started", s(1, "Lamp")),
      team("section", "started", s(2, "Keepers")),
      team("section", "done", { ...s(2, "Keepers"), revision: 2, accepted: false }),
    ];
    const p = root.reduce(reduceSections, noSections);
    expect(p.items.map((x) => [x.section, x.status])).toEqual([[1, "writing"], [2, "done"]]);
    expect(p.items[1]).toMatchObject({ revision: 2, accepted: false });
  });

  it("gives the same picture when a rejoin replays the stream", () => {
    const once = events.reduce(reduceSections, noSections);
    expect([...events, ...events].reduce(reduceSections, noSections)).toEqual(once);
  });

  it("ignores other events without copying", () => {
    expect(reduceSections(noSections, { type: "research.stage", stage: "writing" })).toBe(noSections);
    expect(reduceSections(noSections, team("writer", "started"))).toBe(noSections);
    expect(reduceSections(noSections, null)).toBe(noSections);
  });

  it("reads a finished state's sections against its outline", () => {
    const p = sectionsFromValues({
      outline: { title: "t", sections: [{ title: "Lamp" }, { title: "Keepers" }, { title: "Storm" }] },
      sections: [
        { index: 1, title: "Keepers", revisions: 1, accepted: true, error: null },
        { index: 0, title: "Lamp", revisions: 0, accepted: false, error: "timeout" },
      ],
    });
    expect(p.total).toBe(3);
    expect(p.items.map((x) => [x.section, x.status, x.revision])).toEqual([[1, "failed", 0], [2, "done", 1]]);
    expect(sectionsFromValues(undefined)).toEqual(noSections);
  });
});

describe("sections in the progress", () => {
  it("are reduced with the other progress events and shown while the run streams", () => {
    const p = events.reduce(reduceProgress, emptyProgress);
    expect(p.sections.total).toBe(2);
    const shown = shownProgress(p, {}, true);
    expect(shown.sections.items).toHaveLength(2);
  });
  it("come from the state when no event was seen", () => {
    const shown = shownProgress(emptyProgress, { stage: "done", sections: [{ index: 0, title: "Lamp" }] }, false);
    expect(shown.sections.items.map((x) => x.status)).toEqual(["done"]);
  });
});
