// Credentials of the signed-in user: an API key kept in session storage (gone when the tab closes), never in
// local storage. Listeners hear when the key changes or a request came back 401 (the sign-in form returns).

const KEY = "clew.apiKey";
type Listener = () => void;
const listeners = new Set<Listener>();
let unauthorized = false;

export function apiKey(): string | undefined {
  try {
    return sessionStorage.getItem(KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function setApiKey(key: string | undefined): void {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
  unauthorized = false;
  listeners.forEach((l) => l());
}

/** Called on every 401: the page shows the sign-in form until a new key is set. */
export function markUnauthorized(): void {
  if (unauthorized) return;
  unauthorized = true;
  listeners.forEach((l) => l());
}

export function isUnauthorized(): boolean {
  return unauthorized;
}

export function onAuthChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function authHeaders(): Record<string, string> {
  const key = apiKey();
  return key ? { "x-api-key": key } : {};
}
