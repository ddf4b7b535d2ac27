import { X } from 'lucide-react';
import { useEffect, useId, useLayoutEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** Who opened each open dialog: a dialog that replaces another (a form, then its answer) returns focus to the first one's opener. */
const openers = new WeakMap<Element, HTMLElement | null>();

function openerOf(active: Element | null): HTMLElement | null {
  const within = active?.closest('dialog');
  if (within && openers.has(within)) return openers.get(within) ?? null;
  return active instanceof HTMLElement && active !== document.body ? active : null;
}

/** The controls Tab reaches in `root`, in order: enabled, and laid out (not hidden). */
function tabbable(root: HTMLElement): HTMLElement[] {
  return Array.from(root.querySelectorAll<HTMLElement>(FOCUSABLE)).filter((el) => el.getClientRects().length > 0);
}

/**
 * A modal dialog on the native <dialog> element: focus moves in and stays in (Tab and
 * Shift+Tab wrap around inside it), Escape closes it, and focus returns to the control that
 * opened it — or, when that control is gone (the card of a deleted client), to the page's
 * main content, never to the page body.
 */
export function Dialog({
  title,
  onClose,
  children,
  footer,
  onSubmit,
  tone = 'default',
  size = 'medium',
  icon,
  onEdit,
}: {
  title: string;
  onClose(): void;
  children: ReactNode;
  footer: ReactNode;
  onSubmit?(): void;
  tone?: 'default' | 'danger';
  size?: 'medium' | 'large';
  icon?: ReactNode;
  /** Any edit in the form: an error about the previous attempt no longer applies. */
  onEdit?(): void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  // Read while rendering, before the dialog opens and takes focus: the control that opened it.
  const [opener] = useState(() => openerOf(document.activeElement));
  useEffect(() => {
    const dialog = ref.current;
    if (dialog) openers.set(dialog, opener);
    if (dialog && !dialog.open) {
      dialog.showModal();
      // React's autoFocus runs before the dialog opens; this marks the control to start on instead.
      dialog.querySelector<HTMLElement>('[data-autofocus]')?.focus();
    }
  }, [opener]);
  // A layout effect's cleanup runs while the dialog is still in the document, before React removes it.
  useLayoutEffect(() => {
    const dialog = ref.current;
    return () => {
      if (dialog?.open) dialog.close();
      // After this commit: the opener may be removed in it (its card deleted) or re-rendered.
      queueMicrotask(() => {
        const active = document.activeElement;
        if (active && active !== document.body && active.isConnected) return;
        if (opener?.isConnected) opener.focus();
        else document.getElementById('main')?.focus();
      });
    };
  }, [opener]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSubmit?.();
  };
  useEffect(() => {
    const trapTab = (e: globalThis.KeyboardEvent) => {
      const dialog = ref.current;
      // Only the topmost dialog (the last in the document) keeps Tab.
      if (e.key !== 'Tab' || !dialog || Array.from(document.querySelectorAll('dialog[open]')).at(-1) !== dialog) return;
      const controls = tabbable(dialog);
      const first = controls[0];
      const last = controls.at(-1);
      if (!first || !last) return;
      const active = document.activeElement;
      if (e.shiftKey && (active === first || !dialog.contains(active))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (active === last || !dialog.contains(active))) {
        e.preventDefault();
        first.focus();
      }
    };
    document.addEventListener('keydown', trapTab);
    return () => document.removeEventListener('keydown', trapTab);
  }, []);
  return (
    <dialog
      ref={ref}
      className={`dialog dialog-${tone} dialog-${size}`}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      onMouseDown={(e) => {
        // A press on the backdrop (the dialog element itself, outside its box) closes it.
        if (e.target === ref.current) {
          const r = ref.current.getBoundingClientRect();
          const inside = e.clientX >= r.left && e.clientX <= r.right && e.clientY >= r.top && e.clientY <= r.bottom;
          if (!inside) onClose();
        }
      }}
    >
      <form onSubmit={submit} onInput={onEdit} className="dialog-form" noValidate>
        <header className="dialog-header">
          {icon && (
            <span className="dialog-icon" aria-hidden="true">
              {icon}
            </span>
          )}
          <h2 id={titleId}>{title}</h2>
          <button type="button" className="icon-btn icon-btn-ghost dialog-close" aria-label="Close" title="Close" onClick={onClose}>
            <X size={18} aria-hidden="true" />
          </button>
        </header>
        <div className="dialog-body">{children}</div>
        <footer className="dialog-footer">{footer}</footer>
      </form>
    </dialog>
  );
}
