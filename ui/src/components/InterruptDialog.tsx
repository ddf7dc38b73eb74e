// The dialog of a pending interrupt, built from the interrupt's own payload (nodes/interrupts.py): approval
// (approve / edit / reject, the edit field from the answer schema), input (fields from the schema), selection
// (the options), or any other interrupt (a JSON answer). The server validates the answer; its 422 problems
// arrive as `problems` and are shown inline.

import { useState } from "react";
import type { JsonSchema } from "../api/clew";
import { useApp } from "../context";
import { assemble, formatField, schemaField, schemaFields, type Field } from "../logic/forms";
import { Dialog } from "./Dialog";
import { FieldInput } from "./FieldInput";

export interface TypedInterrupt {
  type: "clew.interrupt";
  kind: "approval" | "input" | "selection" | "todos";
  message: string;
  options: unknown[];
  schema: JsonSchema;
  data: Record<string, unknown>;
}

export function isTyped(v: unknown): v is TypedInterrupt {
  return v != null && typeof v === "object" && (v as { type?: unknown }).type === "clew.interrupt";
}

function optionValue(o: unknown): unknown {
  return o != null && typeof o === "object" && "value" in o ? (o as { value: unknown }).value : o;
}
function optionLabel(o: unknown): string {
  return o != null && typeof o === "object" && "label" in o ? String((o as { label: unknown }).label) : String(optionValue(o));
}

function Problems({ problems }: { problems: string[] }) {
  if (!problems.length) return null;
  return (
    <ul className="problems" role="alert" aria-label="problems">
      {problems.map((p, i) => <li key={i}>{p}</li>)}
    </ul>
  );
}

export function InterruptDialog(props: {
  value: unknown;
  problems: string[];
  busy: boolean;
  onAnswer: (answer: unknown) => void;
}) {
  const { t } = useApp();
  const v = props.value;
  if (!isTyped(v)) return <GenericDialog {...props} title={t.answer} />;
  if (v.kind === "approval") return <ApprovalDialog {...props} value={v} />;
  if (v.kind === "selection") return <SelectionDialog {...props} value={v} />;
  if (v.kind === "todos") return null;
  return <InputDialog {...props} value={v} />;
}

function ApprovalDialog(props: { value: TypedInterrupt; problems: string[]; busy: boolean; onAnswer: (a: unknown) => void }) {
  const { t } = useApp();
  const v = props.value;
  const decisions = (v.schema.properties?.decision?.enum ?? ["approve", "reject"]).map(String);
  const editSchema = v.schema.properties?.edited;
  const editField: Field | null = editSchema ? schemaField("edited", editSchema, true) : null;
  const field = typeof v.data.field === "string" ? v.data[v.data.field] : undefined;
  const [editing, setEditing] = useState(false);
  const [edited, setEdited] = useState(() => (editField ? formatField(editField, field) : ""));
  const [comment, setComment] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const send = (decision: string) => {
    const answer: Record<string, unknown> = { decision };
    if (comment.trim()) answer.comment = comment.trim();
    if (decision === "edit" && editField) {
      const r = assemble([editField], { edited });
      if (!r.ok) return setErrors(r.errors);
      answer.edited = (r.value as { edited: unknown }).edited;
    }
    setErrors({});
    props.onAnswer(answer);
  };
  const label = (d: string) =>
    d === "approve" ? t.approve : d === "edit" ? (editing ? t.sendEdit : t.edit) : d === "reject" ? t.reject : d;
  return (
    <Dialog title={t.approval}>
      <p className="interrupt-message">{v.message}</p>
      {editing && editField && (
        <FieldInput field={editField} label={t.edit} value={edited} onChange={(x) => setEdited(String(x))} error={errors.edited} autoFocus />
      )}
      <FieldInput field={{ name: "comment", label: t.comment, control: "text", required: false }} value={comment} onChange={(x) => setComment(String(x))} />
      <Problems problems={props.problems} />
      <div className="actions">
        {decisions.map((d) =>
          d === "edit" && !editing ? (
            <button key={d} type="button" onClick={() => setEditing(true)} disabled={props.busy}>{label(d)}</button>
          ) : (
            <button key={d} type="button" className={d === "approve" ? "primary" : d === "reject" ? "danger" : ""}
              onClick={() => send(d)} disabled={props.busy}>
              {label(d)}
            </button>
          ),
        )}
      </div>
    </Dialog>
  );
}

function InputDialog(props: { value: TypedInterrupt; problems: string[]; busy: boolean; onAnswer: (a: unknown) => void }) {
  const { t } = useApp();
  const fields = schemaFields(props.value.schema);
  const [raw, setRaw] = useState<Record<string, string | boolean>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const r = assemble(fields, raw);
    if (!r.ok) return setErrors(r.errors);
    setErrors({});
    props.onAnswer(r.value);
  };
  return (
    <Dialog title={t.input}>
      <form onSubmit={submit} noValidate>
        <p className="interrupt-message">{props.value.message}</p>
        {fields.map((f, i) => (
          <FieldInput key={f.name} field={f} label={f.name ? f.label : t.answer} value={raw[f.name] ?? ""}
            onChange={(x) => setRaw((r) => ({ ...r, [f.name]: x }))} error={errors[f.name]} autoFocus={i === 0} />
        ))}
        <Problems problems={props.problems} />
        <div className="actions">
          <button type="submit" className="primary" disabled={props.busy}>{t.submit}</button>
        </div>
      </form>
    </Dialog>
  );
}

function SelectionDialog(props: { value: TypedInterrupt; problems: string[]; busy: boolean; onAnswer: (a: unknown) => void }) {
  const { t } = useApp();
  const v = props.value;
  const multiple = Boolean(v.data.multiple);
  const [chosen, setChosen] = useState<number[]>([]);
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const values = chosen.map((i) => optionValue(v.options[i]));
    props.onAnswer({ selected: multiple ? values : values[0] });
  };
  return (
    <Dialog title={t.answer}>
      <form onSubmit={submit} noValidate>
        <fieldset>
          <legend className="interrupt-message">{v.message}</legend>
          {v.options.map((o, i) => (
            <label key={i} className="option">
              <input type={multiple ? "checkbox" : "radio"} name="selection" checked={chosen.includes(i)} autoFocus={i === 0}
                onChange={(e) =>
                  setChosen((c) => (multiple ? (e.target.checked ? [...c, i] : c.filter((x) => x !== i)) : [i]))
                } />
              {optionLabel(o)}
            </label>
          ))}
        </fieldset>
        <Problems problems={props.problems} />
        <div className="actions">
          <button type="submit" className="primary" disabled={props.busy || chosen.length === 0}>{t.submit}</button>
        </div>
      </form>
    </Dialog>
  );
}

function GenericDialog(props: { value: unknown; title: string; problems: string[]; busy: boolean; onAnswer: (a: unknown) => void }) {
  const { t } = useApp();
  const field: Field = { name: "", label: t.answer, control: "json", required: true };
  const [text, setText] = useState("");
  const [error, setError] = useState<string>();
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const r = assemble([field], { "": text });
    if (!r.ok) return setError(r.errors[""]);
    props.onAnswer(r.value);
  };
  return (
    <Dialog title={props.title}>
      <form onSubmit={submit} noValidate>
        <pre className="interrupt-value">{JSON.stringify(props.value, null, 2)}</pre>
        <FieldInput field={field} value={text} onChange={(x) => setText(String(x))} error={error} autoFocus placeholder='"yes"' />
        <Problems problems={props.problems} />
        <div className="actions">
          <button type="submit" className="primary" disabled={props.busy}>{t.submit}</button>
        </div>
      </form>
    </Dialog>
  );
}
