// Sign-in: a clew account's name (an e-mail address may be used as one) and password, or an API key as the
// alternative. A refusal shows the server's own message (wrong password, unknown key, too many attempts).

import { useState } from "react";
import { login, signInWithKey } from "../api/auth";
import { useApp } from "../context";

export function SignInForm() {
  const { t } = useApp();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const attempt = async (f: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="sign-in">
      <h2>{t.signIn}</h2>
      <p>{t.signInNeeded}</p>
      {error && <p className="error" role="alert">{error}</p>}
      <form aria-label={t.signInPassword} onSubmit={(e) => {
        e.preventDefault();
        if (username.trim() && password) void attempt(() => login(username.trim(), password));
      }}>
        <div className="field">
          <label htmlFor="sign-in-user">{t.emailOrUsername}</label>
          <input id="sign-in-user" type="text" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} autoFocus />
        </div>
        <div className="field">
          <label htmlFor="sign-in-password">{t.password}</label>
          <input id="sign-in-password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </div>
        <div className="actions"><button type="submit" className="primary" disabled={busy}>{t.signIn}</button></div>
      </form>
      <form aria-label={t.signInKey} onSubmit={(e) => {
        e.preventDefault();
        if (key.trim()) void attempt(() => signInWithKey(key.trim()));
      }}>
        <div className="field">
          <label htmlFor="api-key">{t.apiKey}</label>
          <input id="api-key" type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} />
        </div>
        <div className="actions"><button type="submit" disabled={busy}>{t.signInWithKey}</button></div>
      </form>
    </div>
  );
}
