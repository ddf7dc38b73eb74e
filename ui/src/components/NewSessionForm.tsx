// The new-session form: the mode (every graph the server serves) and that mode's input fields.

import { useState } from "react";
import { useApp } from "../context";
import { assemble } from "../logic/forms";
import type { GraphMode } from "../logic/graphs";
import { FieldInput } from "./FieldInput";

export function NewSessionForm(props: { modes: GraphMode[]; onStart: (mode: GraphMode, value: Record<string, unknown>) => void; busy: boolean; error?: string | null }) {
  const { t } = useApp();
  const [graphId, setGraphId] = useState(() => props.modes.find((m) => m.graphId === "research")?.graphId ?? props.modes[0]?.graphId ?? "");
  const [raw, setRaw] = useState<Record<string, string | boolean>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const mode = props.modes.find((m) => m.graphId === graphId);
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    if (!mode) return;
    const r = assemble(mode.fields, raw);
    if (!r.ok) return setErrors(r.errors);
    setErrors({});
    props.onStart(mode, r.value as Record<string, unknown>);
  };
  const labels: Record<string, string> = { question: t.question, source: t.source, message: t.question };
  return (
    <form className="new-session" onSubmit={submit} aria-label={t.newSession} noValidate>
      <h2>{t.newSession}</h2>
      <div className="field">
        <label htmlFor="mode">{t.mode}</label>
        <select id="mode" value={graphId} onChange={(e) => { setGraphId(e.target.value); setErrors({}); }}>
          {props.modes.map((m) => <option key={m.graphId} value={m.graphId}>{m.label}</option>)}
        </select>
      </div>
      {mode?.fields.map((f) => (
        <FieldInput key={`${graphId}-${f.name}`} field={f} label={labels[f.label] ?? f.label} value={raw[f.name] ?? ""}
          onChange={(x) => setRaw((r) => ({ ...r, [f.name]: x }))} error={errors[f.name]} />
      ))}
      {props.error && <p className="error" role="alert">{props.error}</p>}
      <div className="actions"><button type="submit" className="primary" disabled={props.busy || !mode}>{t.start}</button></div>
    </form>
  );
}
