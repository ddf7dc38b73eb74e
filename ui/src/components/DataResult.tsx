// A query result (nodes/data/results.py: {columns: [{name, kind}], rows}) as a table, and its chart when the
// server chose one ({type, x, y, spec: Vega-Lite spec}).

import { VegaChart } from "./VegaChart";

interface Result {
  columns: { name: string; kind?: string }[];
  rows: unknown[][];
  truncated?: boolean;
}

const MAX_ROWS = 100;

export function isResult(v: unknown): v is Result {
  return v != null && typeof v === "object" && Array.isArray((v as Result).columns) && Array.isArray((v as Result).rows);
}

export function chartSpec(v: unknown): unknown {
  if (v == null || typeof v !== "object") return null;
  const spec = (v as { spec?: unknown }).spec ?? v;
  return spec != null && typeof spec === "object" && ("mark" in spec || "layer" in spec) ? spec : null;
}

export function DataResult(props: { result: unknown; chart: unknown; sql?: unknown; title?: string }) {
  const spec = chartSpec(props.chart);
  const result = isResult(props.result) ? props.result : null;
  if (!spec && !result) return null;
  return (
    <section className="data-result" aria-label="result">
      {typeof props.sql === "string" && props.sql && <pre className="sql"><code>{props.sql}</code></pre>}
      {spec != null && <VegaChart spec={spec} title={props.title} />}
      {result && (
        <div className="table-scroll">
          <table>
            <thead>
              <tr>{result.columns.map((c) => <th key={c.name} scope="col">{c.name}</th>)}</tr>
            </thead>
            <tbody>
              {result.rows.slice(0, MAX_ROWS).map((r, i) => (
                <tr key={i}>{r.map((v, j) => <td key={j}>{v == null ? "" : String(v)}</td>)}</tr>
              ))}
            </tbody>
          </table>
          {result.rows.length > MAX_ROWS && <p className="muted">{MAX_ROWS} / {result.rows.length}</p>}
        </div>
      )}
    </section>
  );
}
