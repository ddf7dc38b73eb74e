// Sign-in while clew's accounts are not there yet: an API key, kept in session storage for this tab only.

import { useState } from "react";
import { setApiKey } from "../api/auth";
import { useApp } from "../context";

export function SignInForm() {
  const { t } = useApp();
  const [key, setKey] = useState("");
  return (
    <form className="sign-in" onSubmit={(e) => { e.preventDefault(); if (key.trim()) setApiKey(key.trim()); }} aria-label={t.signIn}>
      <h2>{t.signIn}</h2>
      <p>{t.signInNeeded}</p>
      <div className="field">
        <label htmlFor="api-key">{t.apiKey}</label>
        <input id="api-key" type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} autoFocus />
      </div>
      <div className="actions"><button type="submit" className="primary">{t.signIn}</button></div>
    </form>
  );
}
