// What every component may need: the strings of the chosen language, the user's effective settings, and a
// way to reload them after a change.

import { createContext, useContext } from "react";
import { stringsFor, type Strings } from "./i18n";

export interface AppContextValue {
  t: Strings;
  settings: Record<string, unknown>;
  reloadSettings: () => void;
}

export const AppContext = createContext<AppContextValue>({
  t: stringsFor("en"),
  settings: {},
  reloadSettings: () => {},
});

export const useApp = (): AppContextValue => useContext(AppContext);
