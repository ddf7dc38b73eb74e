// One generated form control (see logic/forms.ts), labelled, with its error shown next to it.

import { useId } from "react";
import type { Field } from "../logic/forms";

export function FieldInput(props: {
  field: Field;
  value: string | boolean;
  onChange: (v: string | boolean) => void;
  error?: string;
  label?: string;
  placeholder?: string;
  autoFocus?: boolean;
}) {
  const { field: f, value, onChange, error } = props;
  const id = useId();
  const errId = `${id}-err`;
  const describedBy = error ? errId : undefined;
  const label = props.label ?? f.label;
  let control;
  if (f.control === "checkbox") {
    control = (
      <input id={id} type="checkbox" checked={Boolean(value)} onChange={(e) => onChange(e.target.checked)}
        aria-describedby={describedBy} autoFocus={props.autoFocus} />
    );
  } else if (f.control === "select") {
    control = (
      <select id={id} value={String(value)} onChange={(e) => onChange(e.target.value)}
        aria-invalid={Boolean(error)} aria-describedby={describedBy} autoFocus={props.autoFocus}>
        {!f.required && <option value="">—</option>}
        {(f.options ?? []).map((o) => (
          <option key={String(o)} value={String(o)}>{String(o)}</option>
        ))}
      </select>
    );
  } else if (f.control === "textarea" || f.control === "json" || f.control === "lines") {
    control = (
      <textarea id={id} value={String(value)} onChange={(e) => onChange(e.target.value)} rows={f.control === "textarea" ? 3 : 5}
        aria-invalid={Boolean(error)} aria-describedby={describedBy} placeholder={props.placeholder}
        autoFocus={props.autoFocus} spellCheck={f.control !== "json"} />
    );
  } else {
    control = (
      <input id={id} value={String(value)} onChange={(e) => onChange(e.target.value)}
        type={f.control === "password" ? "password" : f.control === "number" ? "number" : "text"}
        min={f.min} max={f.max} step={f.step ?? (f.control === "number" ? "any" : undefined)}
        aria-invalid={Boolean(error)} aria-describedby={describedBy} placeholder={props.placeholder}
        autoComplete={f.control === "password" ? "off" : undefined} autoFocus={props.autoFocus} />
    );
  }
  return (
    <div className={`field field-${f.control}`}>
      {label && <label htmlFor={id}>{label}{f.required ? " *" : ""}</label>}
      {control}
      {f.description && <small className="hint">{f.description}</small>}
      {error && <span id={errId} className="error" role="alert">{error}</span>}
    </div>
  );
}
