// A modal dialog on the native <dialog> element: focus moves into it, Tab stays inside, Escape closes it
// (when it may be closed), and focus returns to where it was.

import { useEffect, useRef, type ReactNode } from "react";

export function Dialog(props: { title: string; onClose?: () => void; children: ReactNode; labelId?: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    const before = document.activeElement as HTMLElement | null;
    if (!d.open) d.showModal();
    const first = d.querySelector<HTMLElement>("[autofocus], input, textarea, select, button");
    first?.focus();
    return () => {
      if (d.open) d.close();
      before?.focus?.();
    };
  }, []);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="dialog-title"
      onCancel={(e) => {
        e.preventDefault();
        props.onClose?.();
      }}>
      <h2 id="dialog-title">{props.title}</h2>
      {props.children}
    </dialog>
  );
}
