import { describe, expect, it } from "vitest";
import { reportBody } from "./report";

describe("reportBody", () => {
  it("drops a first heading that repeats the question", () => {
    const report = "# What is the history of the Velmora lighthouse?\n\n> offline\n\n## Summary\n\nText [1].\n";
    expect(reportBody(report, "what is the history of the  Velmora lighthouse")).toBe("> offline\n\n## Summary\n\nText [1].\n");
  });
  it("keeps a title of its own, later headings and reports without a heading", () => {
    const titled = "# The lamp of Velmora\n\nText.";
    expect(reportBody(titled, "Who kept the Velmora light?")).toBe(titled);
    expect(reportBody("Intro\n\n# Q\n", "Q")).toBe("Intro\n\n# Q\n");
    expect(reportBody("## Q\n\nText", "Q")).toBe("## Q\n\nText");
    expect(reportBody("# Q\n", undefined)).toBe("# Q\n");
    expect(reportBody("# Q", "Q")).toBe("");
  });
});
