// The knowledge base: upload (drag and drop or a file picker, several files, progress per file), the
// document list with delete, and a search box showing hits with their source.

import { useEffect, useState } from "react";
import { clew, type KnowledgeDocument, type SearchHit } from "../api/clew";
import { useApp } from "../context";

interface Upload {
  name: string;
  progress: number;
  error?: string;
}

export function KnowledgePanel() {
  const { t } = useApp();
  const [docs, setDocs] = useState<KnowledgeDocument[]>([]);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [query, setQuery] = useState("");
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const load = () => void clew.documents().then((r) => setDocs(r.documents), (e: Error) => setError(e.message));
  useEffect(load, []);
  // documents still being ingested in the background: look again every second until they are ready or failed
  const ingesting = docs.some((d) => d.status !== "ready" && d.status !== "failed");
  useEffect(() => {
    if (!ingesting) return;
    const id = window.setTimeout(load, 1000);
    return () => window.clearTimeout(id);
  }, [docs]);
  const upload = async (files: FileList | File[]) => {
    const list = Array.from(files);
    setUploads(list.map((f) => ({ name: f.name, progress: 0 })));
    await Promise.all(
      list.map((f, i) =>
        clew.upload(f, (p) => setUploads((u) => u.map((x, j) => (j === i ? { ...x, progress: p } : x)))).catch((e: Error) =>
          setUploads((u) => u.map((x, j) => (j === i ? { ...x, error: e.message } : x))),
        ),
      ),
    );
    load();
  };
  const search = (e: React.FormEvent) => {
    e.preventDefault();
    if (!query.trim()) return;
    clew.search(query.trim()).then((r) => setHits(r.results), (err: Error) => setError(err.message));
  };
  return (
    <section className="knowledge" aria-label={t.knowledge}>
      <h2>{t.knowledge}</h2>
      <div className={`dropzone${dragging ? " dragging" : ""}`}
        onDragOver={(e) => { e.preventDefault(); setDragging(true); }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => { e.preventDefault(); setDragging(false); void upload(e.dataTransfer.files); }}>
        <label htmlFor="upload">{t.dropHere}</label>
        <input id="upload" type="file" multiple onChange={(e) => e.target.files && void upload(e.target.files)} />
      </div>
      {uploads.length > 0 && (
        <ul className="uploads" aria-label={t.upload}>
          {uploads.map((u) => (
            <li key={u.name}>
              {u.name} <progress max={1} value={u.progress} aria-label={u.name} />
              {u.error && <span className="error" role="alert"> {u.error}</span>}
            </li>
          ))}
        </ul>
      )}
      {error && <p className="error" role="alert">{error}</p>}
      <h3>{t.documents}</h3>
      <ul className="documents">
        {docs.map((d) => (
          <li key={d.document_id} data-status={d.status}>
            {d.title || d.filename} <small>({d.status}, {d.chunk_count} chunks)</small>{" "}
            <button type="button" className="icon" aria-label={`${t.delete}: ${d.filename}`}
              onClick={() => clew.deleteDocument(d.document_id).then(load, (e: Error) => setError(e.message))}>✕</button>
          </li>
        ))}
      </ul>
      <form onSubmit={search} className="kb-search" role="search">
        <label htmlFor="kb-query">{t.searchKnowledge}</label>
        <input id="kb-query" type="search" value={query} onChange={(e) => setQuery(e.target.value)} />
        <button type="submit">{t.searchKnowledge}</button>
      </form>
      {hits && (hits.length === 0 ? <p className="muted">{t.noHits}</p> : (
        <ol className="hits">
          {hits.map((h) => (
            <li key={h.chunk_id}>
              <strong>{h.title || h.source}</strong> <small>{h.score.toFixed(2)}</small>
              <p>{h.text}</p>
            </li>
          ))}
        </ol>
      ))}
    </section>
  );
}
