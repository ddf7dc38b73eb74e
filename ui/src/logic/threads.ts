// A session's name in the list: its title (set by this UI or a rename), else what it was asked — the
// research question in metadata or values, else the first human message — else "<graph> <8 hex>".

type Obj = Record<string, unknown>;

const MAX = 80;

function shorten(text: string): string {
  const s = text.replace(/\s+/g, " ").trim();
  return s.length > MAX ? `${s.slice(0, MAX - 1)}…` : s;
}

/** The text of a message's content: a string, or the text parts of a content list. */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => (typeof p === "string" ? p : p && typeof p === "object" && (p as Obj).type === "text" ? String((p as Obj).text ?? "") : ""))
      .join(" ");
  }
  return "";
}

/** The first human message's text in a list of messages (LangChain `type: "human"` or OpenAI `role: "user"`). */
export function firstHumanText(messages: unknown): string | null {
  if (!Array.isArray(messages)) return null;
  for (const m of messages) {
    if (!m || typeof m !== "object") continue;
    const o = m as Obj;
    if (o.type === "human" || o.role === "user" || o.role === "human") {
      const text = contentText(o.content).trim();
      if (text) return text;
    }
  }
  return null;
}

const text = (v: unknown): string | null => (typeof v === "string" && v.trim() ? v : null);

export function sessionTitle(th: { thread_id: string; metadata?: unknown; values?: unknown }): string {
  const m = (th.metadata ?? {}) as Obj;
  const v = (th.values && typeof th.values === "object" && !Array.isArray(th.values) ? th.values : {}) as Obj;
  const asked = text(m.title) ?? text(m.research_question) ?? text(m.question) ?? text(v.question)
    ?? text(v.research_question) ?? text(v.topic) ?? firstHumanText(v.messages);
  if (asked) return shorten(asked);
  return `${String(m.graph_id ?? "session")} ${th.thread_id.slice(0, 8)}`;
}
