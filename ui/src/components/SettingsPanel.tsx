// Settings: every definition the server declares, by category, as a generated form: the effective value and
// the layer it comes from, save, reset to default; secrets are write-only; the history of the user's layer
// with rollback.

import { useEffect, useState } from "react";
import { clew, type Definitions, type SettingsVersion, type UserSettings } from "../api/clew";
import { useApp } from "../context";
import { formatField, parseField, settingsByCategory, type Field } from "../logic/forms";
import type { SettingDefinition } from "../api/clew";
import { FieldInput } from "./FieldInput";

export interface LayerView {
  values: Record<string, unknown>;
  sources: Record<string, string>;
  editable: string[];
  /** the keys this layer sets itself (they can be reset) */
  own: string[];
  /** the layer's name in `sources` ("user", "session") */
  layer: string;
}

export function SettingRow(props: {
  def: SettingDefinition;
  field: Field;
  view: LayerView;
  onSave: (key: string, value: unknown) => Promise<unknown>;
  onReset: (key: string) => Promise<unknown>;
  onSaved: () => void;
}) {
  const { t } = useApp();
  const { def, field, view } = props;
  const current = view.values[def.key];
  const initial = def.secret ? "" : field.control === "checkbox" ? Boolean(current) : formatField(field, current);
  const [raw, setRaw] = useState<string | boolean>(initial);
  const [error, setError] = useState<string | undefined>();
  useEffect(() => setRaw(initial), [JSON.stringify(current)]);
  const editable = view.editable.includes(def.key);
  const act = async (action: () => Promise<unknown>) => {
    try {
      await action();
      setError(undefined);
      props.onSaved();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const save = (e: React.FormEvent) => {
    e.preventDefault();
    const p = parseField({ ...field, required: true }, raw);
    if (!p.ok) return setError(p.error);
    void act(() => props.onSave(def.key, p.value));
  };
  const source = view.sources[def.key] ?? "default";
  return (
    <form className="setting" onSubmit={save} data-key={def.key} noValidate>
      <fieldset disabled={!editable}>
        <FieldInput field={field} value={raw} onChange={setRaw} error={error}
          placeholder={def.secret && current ? t.secretSet : undefined} />
        <div className="setting-meta">
          <span className={`source source-${source}`}>{t.from} {source}</span>
          <button type="submit">{t.save}</button>
          {view.own.includes(def.key) && <button type="button" onClick={() => void act(() => props.onReset(def.key))}>{t.reset}</button>}
        </div>
      </fieldset>
    </form>
  );
}

export function SettingsPanel() {
  const { t, reloadSettings } = useApp();
  const [defs, setDefs] = useState<Definitions | null>(null);
  const [settings, setSettings] = useState<UserSettings | null>(null);
  const [history, setHistory] = useState<SettingsVersion[]>([]);
  const [error, setError] = useState<string | null>(null);
  const load = () => {
    Promise.all([clew.definitions(), clew.settings(), clew.settingsHistory()])
      .then(([d, s, h]) => {
        setDefs(d);
        setSettings(s);
        setHistory(h);
      })
      .catch((e: Error) => setError(e.message));
  };
  useEffect(load, []);
  const saved = () => {
    load();
    reloadSettings();
  };
  if (error) return <p className="error" role="alert">{error}</p>;
  if (!defs || !settings) return <p className="muted">…</p>;
  return (
    <section className="settings" aria-label={t.settings}>
      <h2>{t.settings}</h2>
      {settingsByCategory(defs.categories, defs.definitions).map((c) => (
        <details key={c.code} open={c.code === "ui"} className="category">
          <summary><h3>{c.name}</h3></summary>
          {c.fields.map(({ definition, field }) => (
            <SettingRow key={definition.key} def={definition} field={field} onSaved={saved}
              view={{ ...settings, own: Object.keys(settings.overrides), layer: "user" }}
              onSave={clew.setSetting} onReset={clew.resetSetting} />
          ))}
        </details>
      ))}
      <h3>{t.history}</h3>
      <ol className="history">
        {history.map((v) => (
          <li key={v.version}>
            v{v.version} · {new Date(v.changed_at).toLocaleString()} · {v.changes.map((c) => c.key).join(", ")}{" "}
            <button type="button" onClick={() => clew.rollbackSettings(v.version).then(saved, (e: Error) => setError(e.message))}>
              {t.rollback}
            </button>
          </li>
        ))}
      </ol>
    </section>
  );
}
