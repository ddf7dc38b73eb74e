// The report as the page shows it: the session's question is the page's heading already, so a report whose
// first heading only repeats it (the offline writer's `# <Question>`) is shown without that line.

const norm = (s: string): string => s.replace(/\s+/g, " ").trim().replace(/[?？.。!！:：]+$/u, "").toLowerCase();

/** `report` without a leading level-1 heading that repeats `question` (any other heading is kept). */
export function reportBody(report: string, question: unknown): string {
  if (typeof question !== "string" || !norm(question)) return report;
  const m = /^\s*#[ \t]+(.+?)[ \t]*#*[ \t]*(?:\r?\n|$)/.exec(report);
  if (!m || norm(m[1]!) !== norm(question)) return report;
  return report.slice(m[0].length).replace(/^\s*\n/, "");
}
