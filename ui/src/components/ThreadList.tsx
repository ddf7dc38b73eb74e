// The user's sessions (threads): search by title, rename (metadata.title), delete; a session waiting for a
// human is marked.

import type { Thread } from "@langchain/langgraph-sdk";
import { useState } from "react";
import { useApp } from "../context";
import { sessionTitle } from "../logic/threads";

export function threadTitle(th: Thread): string {
  return sessionTitle(th);
}

export function ThreadList(props: {
  threads: Thread[];
  selected: string | null;
  onSelect: (id: string) => void;
  onRename: (id: string, title: string) => void;
  onDelete: (id: string) => void;
}) {
  const { t } = useApp();
  const [query, setQuery] = useState("");
  const [renaming, setRenaming] = useState<string | null>(null);
  const [name, setName] = useState("");
  const shown = props.threads.filter((th) => threadTitle(th).toLowerCase().includes(query.toLowerCase()));
  return (
    <nav className="thread-list" aria-label={t.sessions}>
      <label htmlFor="thread-search" className="visually-hidden">{t.searchSessions}</label>
      <input id="thread-search" type="search" placeholder={t.searchSessions} value={query} onChange={(e) => setQuery(e.target.value)} />
      {shown.length === 0 && <p className="muted">{t.noSessions}</p>}
      <ul>
        {shown.map((th) => (
          <li key={th.thread_id} className={th.thread_id === props.selected ? "selected" : ""} data-status={th.status}>
            {renaming === th.thread_id ? (
              <form onSubmit={(e) => {
                e.preventDefault();
                props.onRename(th.thread_id, name.trim() || threadTitle(th));
                setRenaming(null);
              }}>
                <label htmlFor={`rename-${th.thread_id}`} className="visually-hidden">{t.rename}</label>
                <input id={`rename-${th.thread_id}`} value={name} onChange={(e) => setName(e.target.value)} autoFocus
                  onKeyDown={(e) => e.key === "Escape" && setRenaming(null)} />
                <button type="submit">{t.save}</button>
              </form>
            ) : (
              <>
                <button type="button" className="thread-title" aria-current={th.thread_id === props.selected ? "page" : undefined}
                  onClick={() => props.onSelect(th.thread_id)}>
                  {threadTitle(th)}
                  {th.status === "interrupted" && <span className="badge waiting">{t.waiting}</span>}
                  {th.status === "busy" && <span className="badge busy">{t.running}</span>}
                </button>
                <span className="thread-actions">
                  <button type="button" className="icon" aria-label={`${t.rename}: ${threadTitle(th)}`}
                    onClick={() => { setRenaming(th.thread_id); setName(threadTitle(th)); }}>✎</button>
                  <button type="button" className="icon" aria-label={`${t.delete}: ${threadTitle(th)}`}
                    onClick={() => props.onDelete(th.thread_id)}>✕</button>
                </span>
              </>
            )}
          </li>
        ))}
      </ul>
    </nav>
  );
}
