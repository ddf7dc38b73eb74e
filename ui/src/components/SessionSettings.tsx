// The session layer of one thread: the settings a session may override (scope "session"), their effective
// value in this thread and where it comes from; save and reset write the thread's layer, which the next run
// on the thread resolves.

import { useEffect, useState } from "react";
import { clew, type SettingDefinition, type ThreadConfig } from "../api/clew";
import { useApp } from "../context";
import { settingField } from "../logic/forms";
import { SettingRow } from "./SettingsPanel";

export function SessionSettings({ threadId }: { threadId: string }) {
  const { t } = useApp();
  const [open, setOpen] = useState(false);
  const [defs, setDefs] = useState<SettingDefinition[]>([]);
  const [view, setView] = useState<ThreadConfig | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () => {
    Promise.all([clew.definitions(), clew.threadConfig(threadId)]).then(([d, v]) => {
      setDefs(d.definitions.filter((x) => x.session_editable));
      setView(v);
    }, (e: Error) => setError(e.message));
  };
  useEffect(() => {
    if (open) load();
  }, [open, threadId]);
  const layer = view?.config ?? {};
  return (
    <details className="session-settings" onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary>{t.sessionSettings}</summary>
      {error && <p className="error" role="alert">{error}</p>}
      {view && defs.map((d) => (
        <SettingRow key={d.key} def={d} field={settingField(d)} onSaved={load}
          view={{ values: view.values, sources: view.sources, editable: defs.map((x) => x.key), own: Object.keys(layer), layer: "session" }}
          onSave={(key, value) => clew.putThreadConfig(threadId, { ...layer, [key]: value })}
          onReset={(key) => clew.putThreadConfig(threadId, Object.fromEntries(Object.entries(layer).filter(([k]) => k !== key)))} />
      ))}
    </details>
  );
}
