// The conversation: human and AI messages (AI text as safe markdown), streamed tokens as they arrive.

import type { Message } from "@langchain/langgraph-sdk";
import { useApp } from "../context";
import { Markdown } from "./Markdown";

export function textOf(content: Message["content"]): string {
  if (typeof content === "string") return content;
  return content.map((c) => ("text" in c && typeof c.text === "string" ? c.text : "")).join("");
}

export function MessageList({ messages }: { messages: Message[] }) {
  const { t } = useApp();
  const shown = messages.filter((m) => m.type === "human" || m.type === "ai");
  if (!shown.length) return null;
  return (
    <ol className="messages" aria-label={t.sessions} aria-live="polite">
      {shown.map((m, i) => (
        <li key={m.id ?? i} className={`message message-${m.type}`} data-testid={`message-${m.type}`}>
          {m.type === "ai" ? <Markdown text={textOf(m.content)} /> : <p>{textOf(m.content)}</p>}
        </li>
      ))}
    </ol>
  );
}
